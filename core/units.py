"""The org unit tree for admins: one unit with its children, and adding a unit beneath it
(a community under a district, a grid under a community …). Audited."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tortoise.functions import Count
from tortoise.transactions import in_transaction

from core import audit, i18n
from core.errors import FieldsInvalid, NotFound
from core.orgs import OrgUnit

# The levels a unit may hold directly: a community may skip 居委会/村 and hold grids itself.
CHILD_LEVELS = {"city": ("district",), "district": ("community",),
                "community": ("committee", "grid"), "committee": ("grid",), "grid": ()}
CODE_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,31}$")
MAX_HOUSEHOLDS = 100_000
PATH_MAX = 255  # core_org_unit.path


@dataclass
class Node:
    unit: OrgUnit
    ancestors: list[OrgUnit]
    children: list[OrgUnit]
    counts: dict[int, int]  # child id → its own children

    @property
    def child_levels(self) -> tuple[str, ...]:
        return CHILD_LEVELS.get(self.unit.level, ())


async def roots() -> list[OrgUnit]:
    return list(await OrgUnit.filter(parent_id=None).order_by("sort_order", "code"))


async def node(code: str, lang: str = i18n.DEFAULT) -> Node:
    unit = await OrgUnit.get_or_none(code=code)
    if unit is None:
        raise NotFound("unknown_unit", i18n.t("units.not_found", lang, code=code[:32]),
                       field="unit")
    codes = [c for c in unit.path.strip("/").split("/") if c and c != unit.code]
    by_code = {u.code: u for u in await OrgUnit.filter(code__in=codes)} if codes else {}
    children = list(await OrgUnit.filter(parent_id=unit.id).order_by("sort_order", "code"))
    counts = dict(await OrgUnit.filter(parent_id__in=[c.id for c in children]).annotate(
        n=Count("id")).group_by("parent_id").values_list("parent_id", "n")) if children else {}
    return Node(unit, [by_code[c] for c in codes if c in by_code], children, counts)


async def suggested_code(parent: OrgUnit) -> str:
    """The parent's code and the next free three-digit number, as the demo numbers them."""
    taken = set(await OrgUnit.filter(parent_id=parent.id).values_list("code", flat=True))
    for n in range(1, 1000):
        code = f"{parent.code}{n:03d}"
        if code not in taken and len(code) <= 32:
            if not await OrgUnit.exists(code=code):
                return code
    return ""


async def add(parent_code: str, values: dict[str, str], lang: str = i18n.DEFAULT) -> OrgUnit:
    """A new unit under `parent_code`; each refused field is named with its message."""
    t = lambda key, **p: i18n.t(f"units.{key}", lang, **p)  # noqa: E731
    parent = (await node(parent_code, lang)).unit
    level = (values.get("level") or "").strip()
    code = (values.get("code") or "").strip()
    name = (values.get("name") or "").strip()
    raw_households = (values.get("households") or "").strip()
    errors: dict[str, str] = {}
    allowed = CHILD_LEVELS.get(parent.level, ())
    if level not in allowed:
        errors["level"] = (t("err_level", parent=parent.name) if allowed
                           else t("err_leaf", parent=parent.name))
    if not code:
        errors["code"] = t("err_required")
    elif not CODE_RE.match(code):
        errors["code"] = t("err_code")
    elif len(parent.path) + len(code) + 1 > PATH_MAX:
        errors["code"] = t("err_deep")
    if not name:
        errors["name"] = t("err_required")
    elif len(name) > 100:
        errors["name"] = t("err_name_long")
    households = None
    if raw_households:
        if not (raw_households.isascii() and raw_households.isdigit()) or not (
                1 <= int(raw_households) <= MAX_HOUSEHOLDS):
            errors["households"] = t("err_households", max=MAX_HOUSEHOLDS)
        else:
            households = int(raw_households)
    async with in_transaction():
        if "code" not in errors and await OrgUnit.exists(code=code):
            other = await OrgUnit.get(code=code)
            errors["code"] = t("err_code_taken", code=code, name=other.name)
        if "name" not in errors and await OrgUnit.exists(parent_id=parent.id, name=name):
            errors["name"] = t("err_name_taken", name=name, parent=parent.name)
        if errors:
            raise FieldsInvalid(errors)
        last = await OrgUnit.filter(parent_id=parent.id).order_by("-sort_order").first()
        unit = await OrgUnit.create(code=code, name=name, level=level, parent=parent,
                                    path=f"{parent.path}{code}/", households=households,
                                    sort_order=(last.sort_order + 1) if last else 1)
        await audit.record("unit.create", "org_unit", code, after=audit.snapshot(unit))
    return unit
