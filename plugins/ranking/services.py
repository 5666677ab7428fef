"""Schemes and peer groups: the current indicator scheme, applying it, the units of a group.

Values live in values.py, rankings (compute, publish, verify, objections) in rankings.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from core import audit, clock
from core.errors import Invalid, NotFound
from core.orgs import OrgUnit
from core.plugins import get_host
from plugins.ranking import models
from plugins.ranking.scheme import Group, Scheme, SchemeError, from_json, parse, to_json
from plugins.ranking.scoring import digest

_parsed: dict[str, Scheme] = {}  # by the scheme's SHA-256: ids repeat across databases


def today() -> dt.date:
    return clock.local_now().date()


def source_keys() -> set[str]:
    """Every indicator key some loaded plugin provides through kaohe_indicator_sources."""
    return {src.key for _, src in get_host().collect("kaohe_indicator_sources")}


def indicator_source(key: str) -> Any | None:
    for _, src in get_host().collect("kaohe_indicator_sources"):
        if src.key == key:
            return src
    return None


def exporter_names() -> set[str]:
    from plugins.ranking.subscriptions import all_exporters

    return set(all_exporters())


def validate_section(section: Any, definition: dict[str, Any]) -> list[str]:
    from plugins.ranking import annual_scheme
    from plugins.ranking.scheme import SchemeError, validate

    if not isinstance(section, dict) or "annual" not in section:
        return validate(section, definition, source_keys(), exporter_names())
    rest = {k: v for k, v in section.items() if k != "annual"}
    errors = validate(rest, definition, source_keys(), exporter_names())
    try:  # the year section names indicators of the scheme: check it against the scheme
        scheme = parse(rest, source_keys()) if not errors else None
    except SchemeError:
        scheme = None
    periods = {p.get("code") for p in definition.get("periods", []) if isinstance(p, dict)}
    return errors + annual_scheme.validate(section["annual"], scheme, periods, source_keys())


async def apply_section(section: dict[str, Any], definition: Any) -> models.Scheme:
    """Store the scheme with the definition version; sync the definition's subscriptions."""
    try:  # [ranking.annual] is read from the stored definition (plugins.ranking.annual)
        scheme = parse({k: v for k, v in section.items() if k != "annual"}, source_keys())
    except SchemeError as exc:  # validated before apply; a race with a plugin unloading
        raise Invalid("scheme_invalid", "; ".join(exc.errors)) from None
    data = to_json(scheme)
    sha = digest(data)
    row = await models.Scheme.get_or_none(slug=definition.slug,
                                          definition_version=definition.version)
    if row is None:
        await models.Scheme.filter(is_current=True).update(is_current=False)
        row = await models.Scheme.create(slug=definition.slug,
                                         definition_version=definition.version, sha256=sha,
                                         data=data, is_current=True)
        await audit.record("ranking.scheme.apply", "ranking_scheme", row.id,
                           after={"slug": row.slug, "definition_version": row.definition_version,
                                  "sha256": sha, "aspects": len(scheme.aspects),
                                  "indicators": len(scheme.indicators)})
    from plugins.ranking.subscriptions import sync_from_definition

    await sync_from_definition(list(section.get("subscriptions", [])))
    return row


async def current_scheme(required: bool = True) -> tuple[models.Scheme | None, Scheme | None]:
    row = await models.Scheme.filter(is_current=True).order_by("-id").first()
    if row is None:
        if required:
            raise NotFound("no_scheme", "no assessment definition with a [ranking] section has "
                                        "been applied (kaohe assessments apply FILE)")
        return None, None
    return row, scheme_of(row)


async def scheme_by_id(scheme_id: int) -> Scheme:
    """The parsed scheme of a ranking: its hash first, its data only when not parsed yet."""
    sha = await models.Scheme.filter(id=scheme_id).values_list("sha256", flat=True)
    if sha and sha[0] in _parsed:
        return _parsed[sha[0]]
    return scheme_of(await models.Scheme.get(id=scheme_id))


def scheme_of(row: models.Scheme) -> Scheme:
    if row.sha256 not in _parsed:
        _parsed[row.sha256] = from_json(row.data)
    return _parsed[row.sha256]


def get_group(scheme: Scheme, key: str | None, field: str = "group") -> Group:
    group = scheme.group(key or "")
    if group is None:
        known = ", ".join(g.key for g in scheme.groups)
        raise Invalid("unknown_group", f"{field}: no peer group '{key}' (known: {known})",
                      field=field)
    return group


async def group_units(group: Group, within: str | None = None) -> list[OrgUnit]:
    """The peers of a group in a stable order; `within` narrows to a unit's subtree."""
    qs = OrgUnit.filter(level=group.level, active=True)
    for code in (group.within, within):
        if code:
            parent = await OrgUnit.get_or_none(code=code)
            if parent is None:
                raise NotFound("unknown_unit", f"unit: no org unit with code '{code}'",
                               field="unit")
            qs = qs.filter(path__startswith=parent.path)
    return await qs.order_by("path")
