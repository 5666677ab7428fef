"""Finding an org unit by name or code, narrowed district → community → grid, within what the
user may pick; and reading the unit field of a form (a code, or a name that names one unit).

The city has 3,374 units: a form never lists them all. The picker asks the database for at most
`LIMIT` of them; every form still takes a typed code, so a page works without JavaScript.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tortoise.expressions import Q
from tortoise.functions import Length

from core import i18n
from core.errors import Invalid
from core.orgs import LEVELS, OrgUnit

LIMIT = 20
# "南明区 (520102)" as a suggestion shows it: the code in brackets is what counts.
_BRACKETED = re.compile(r"[(（]\s*([0-9A-Za-z_.-]{1,32})\s*[)）]\s*$")


@dataclass(frozen=True)
class Reach:
    """The part of the tree a user may pick from: everything, or one unit's subtree."""

    path: str | None = None  # None: the whole tree

    def allows(self, unit: OrgUnit) -> bool:
        return self.path is None or unit.path.startswith(self.path)


async def reach_for(user) -> Reach:
    """A unit officer picks inside their own unit; everyone else anywhere (a unit officer
    without a unit picks nothing)."""
    if user is not None and user.role == "unit_officer":
        unit = await OrgUnit.get_or_none(id=user.unit_id) if user.unit_id else None
        return Reach(unit.path if unit else "\0")
    return Reach()


def _levels(levels: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    if not levels:
        return ()
    if isinstance(levels, str):
        levels = levels.split(",")
    return tuple(lv.strip() for lv in levels if lv.strip() in LEVELS)


def _within(qs, reach: Reach):
    return qs if reach.path is None else qs.filter(path__startswith=reach.path)


async def search(q: str = "", *, reach: Reach = Reach(), parent: OrgUnit | None = None,
                 levels: tuple[str, ...] = (), limit: int = LIMIT) -> list[OrgUnit]:
    """Units whose name contains `q` or whose code starts with it, shallow levels first; with
    no `q`, the children of `parent` (or the top of the user's reach). At most `limit`."""
    q = (q or "").strip()[:100]
    qs = _within(OrgUnit.filter(active=True), reach)
    if q:
        if parent is not None:
            qs = qs.filter(path__startswith=parent.path)
        if levels:
            qs = qs.filter(level__in=levels)
        qs = qs.filter(Q(name__icontains=q) | Q(code__startswith=q))
        return await (qs.annotate(depth=Length("path")).select_related("parent")
                      .order_by("depth", "sort_order", "code").limit(limit))
    if parent is None:
        parent = await top(reach)
        if parent is None:
            return []
    rows = await qs.filter(parent_id=parent.id).select_related("parent").order_by(
        "sort_order", "code").limit(limit)
    return rows


async def top(reach: Reach) -> OrgUnit | None:
    """The unit the narrowing starts from: the user's own, else the root of the tree."""
    if reach.path is not None:
        code = reach.path.rstrip("/").rsplit("/", 1)[-1]
        return await OrgUnit.get_or_none(code=code, path=reach.path)
    return await OrgUnit.filter(parent_id=None).order_by("sort_order", "code").first()


async def with_children(units: list[OrgUnit]) -> set[int]:
    """Ids of the units among `units` that have children (those can be narrowed into)."""
    ids = [u.id for u in units]
    if not ids:
        return set()
    # ordered by the selected column: PostgreSQL refuses DISTINCT with the model's ordering
    rows = await OrgUnit.filter(parent_id__in=ids, active=True).order_by("parent_id").distinct(
    ).values_list("parent_id", flat=True)
    return set(rows)


async def chain(unit: OrgUnit) -> list[OrgUnit]:
    """The unit's ancestors and itself, top first (one query on the materialized path)."""
    codes = [c for c in unit.path.strip("/").split("/") if c]
    found = {u.code: u for u in await OrgUnit.filter(code__in=codes)}
    return [found[c] for c in codes if c in found]


def level_names(levels: tuple[str, ...], lang: str) -> str:
    return "、".join(i18n.t(f"units.level_{lv}", lang) for lv in levels)


async def resolve(text: str | None, *, field: str, label: str, reach: Reach = Reach(),
                  levels: str | tuple[str, ...] | None = None, required: bool = False,
                  lang: str = i18n.DEFAULT) -> OrgUnit | None:
    """The unit a form's field names: its code (also "名称 (代码)"), or a name that only one
    unit in the user's reach carries. Every refusal names the field (`label`, already in the
    user's language) and is raised as Invalid with `field` set."""
    t = lambda key, **p: i18n.t(f"unit_picker.{key}", lang, field=label, **p)  # noqa: E731
    text = (text or "").strip()
    if not text:
        if required:
            raise Invalid("unit_required", t("required"), field=field)
        return None
    wanted = _levels(levels)
    bracketed = _BRACKETED.search(text)
    code = bracketed.group(1) if bracketed else text
    unit = await OrgUnit.get_or_none(code=code[:32]) if len(code) <= 32 else None
    if unit is None:
        qs = _within(OrgUnit.filter(name=text[:100], active=True), reach)
        if wanted:
            qs = qs.filter(level__in=wanted)
        named = await qs.select_related("parent").order_by("path").limit(6)
        if len(named) > 1:
            shown = "、".join(f"{u.parent.name + ' ' if u.parent else ''}{u.name}（{u.code}）"
                             for u in named[:5])
            raise Invalid("ambiguous_unit", t("ambiguous", text=text[:60], choices=shown),
                          field=field)
        unit = named[0] if named else None
    if unit is None:
        raise Invalid("unknown_unit", t("unknown", text=text[:60]), field=field)
    if not reach.allows(unit):
        raise Invalid("unit_not_allowed", t("not_allowed", unit=unit.name, code=unit.code),
                      field=field)
    if wanted and unit.level not in wanted:
        raise Invalid("unit_wrong_level", t("wrong_level", unit=unit.name, code=unit.code,
                                            levels=level_names(wanted, lang)), field=field)
    return unit


async def narrowing(text: str | None, *, field: str, label: str, reach: Reach = Reach(),
                    lang: str = i18n.DEFAULT) -> tuple[str, dict[str, str]]:
    """The code a list filter narrows to, from a picked or typed unit (its code, "名称（代码）"
    or a name only one unit carries); digits that name no unit stay as the start of codes.
    A refusal comes back as {field: message} for the page to show beside the field (the list
    is then not narrowed)."""
    text = (text or "").strip()
    if not text:
        return "", {}
    try:
        unit = await resolve(text, field=field, label=label, reach=reach, lang=lang)
    except Invalid as exc:
        return (text, {}) if text.isdigit() else ("", {field: exc.message})
    return unit.code, {}
