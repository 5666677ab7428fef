"""Indicator values: hand entry and uploads (checked all or nothing), plugin values pulled at
compute time, and the list of what is missing before a ranking is computed."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from tortoise.transactions import in_transaction

from core import audit, cells, i18n
from core.errors import Conflict, Invalid, KaoheError, NotFound
from core.orgs import OrgUnit, Period, get_open_period
from core.sql import Sql
from plugins.ranking import models
from plugins.ranking.scheme import Group, Indicator, Scheme
from plugins.ranking.scoring import num
from plugins.ranking.services import current_scheme, get_group, group_units, indicator_source

PUBLISHED = ("objection", "final")
MAX_PLACES = 4


@dataclass
class Entry:
    """One value to set: `raw` None or "" clears the value."""

    unit: str
    indicator: str
    raw: Any
    where: str = ""  # how to name this entry in an error (row/column of a sheet, list index)


@dataclass
class Inputs:
    """Every input of a ranking: values by unit and indicator, and each indicator's source."""

    period: str
    units: list[OrgUnit]
    values: dict[str, dict[str, Decimal | None]]
    sources: dict[str, str]


def parse_value(ind: Indicator, raw: Any, lang: str = "zh") -> tuple[Decimal | None, str | None]:
    """(value, error). The error names what is wrong, not where (the caller adds that).
    Read by the platform's cell parser (core.cells): ８５．５ and 1,234 are numbers."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, None
    try:
        return cells.decimal_in(raw, integer=ind.integer, low=ind.range_min,
                                high=ind.range_max, places=MAX_PLACES, unit=ind.unit), None
    except cells.CellProblem as problem:
        return None, problem.message(lang)


async def published_units(period: str, codes: Iterable[str]) -> dict[str, int]:
    """unit code → id of a published ranking of `period` that froze this unit's inputs."""
    rows = await models.RankingRow.filter(
        ranking__period=period, ranking__status__in=PUBLISHED,
        unit_code__in=list(codes)).values_list("unit_code", "ranking_id")
    return dict(rows)


async def set_values(period: str, group_key: str, entries: Sequence[Entry], *, origin: str,
                     actor: str | None = None, lang: str = i18n.DEFAULT) -> dict[str, int]:
    """Check every entry, then write all of them or none. Returns counts of what changed;
    a value's problem is said in `lang` (the grid shows it beside the cell)."""
    _, scheme = await current_scheme()
    group = get_group(scheme, group_key)
    if not await Period.exists(code=period):
        raise NotFound("unknown_period", f"period: no period '{period}'", field="period")
    await get_open_period(period)  # a closed period is read-only for everyone
    members = {u.code for u in await group_units(group)}
    errors: list[dict[str, str]] = []
    parsed: dict[tuple[str, str], Decimal | None] = {}
    for n, e in enumerate(entries):
        where = e.where or f"values[{n}]"
        ind = scheme.by_key.get(e.indicator)
        if ind is None:
            errors.append({"where": where, "field": "indicator",
                           "message": f"{where}: no indicator '{e.indicator}' in the scheme"})
            continue
        if not ind.stored:
            errors.append({"where": where, "field": "indicator",
                           "message": f"{where}: indicator '{ind.key}' ({ind.name}) comes from "
                                      f"{ind.source} and cannot be entered"})
            continue
        if e.unit not in members:
            errors.append({"where": where, "field": "unit",
                           "message": f"{where}: unit '{e.unit}' is not in the peer group "
                                      f"'{group.key}' ({group.name})"})
            continue
        value, problem = parse_value(ind, e.raw, lang)
        if problem:
            errors.append({"where": where, "field": "value", "unit": e.unit,
                           "indicator": ind.key, "message": f"{where}: {ind.name}: {problem}",
                           "problem": problem})
            continue
        parsed[(e.unit, ind.key)] = value
    if errors:
        raise Invalid("values_invalid", f"{len(errors)} values have errors; nothing was saved: "
                      + "; ".join(x["message"] for x in errors[:5]), details=errors)
    if not parsed:
        return {"created": 0, "updated": 0, "deleted": 0, "unchanged": 0}
    frozen = await published_units(period, {u for u, _ in parsed})
    if frozen:
        unit, rid = next(iter(sorted(frozen.items())))
        raise Conflict("ranking_published",
                       f"unit '{unit}': ranking #{rid} of {period} is published and froze its "
                       f"inputs; a published ranking is never edited (start a revision)",
                       field="unit", details={"units": sorted(frozen), "ranking_id": rid})
    return await _write(period, parsed, origin, actor or audit.current_actor())


async def _write(period: str, parsed: dict[tuple[str, str], Decimal | None], origin: str,
                 actor: str) -> dict[str, int]:
    units = sorted({u for u, _ in parsed})
    keys = sorted({k for _, k in parsed})
    counts = {"created": 0, "updated": 0, "deleted": 0, "unchanged": 0}
    before: dict[str, str | None] = {}
    after: dict[str, str | None] = {}
    async with in_transaction():
        existing = {(v.unit_code, v.indicator): v for v in await models.IndicatorValue.filter(
            period=period, unit_code__in=units, indicator__in=keys)}
        new_rows, delete_ids = [], []
        for (unit, key), value in parsed.items():
            row = existing.get((unit, key))
            label = f"{unit}/{key}"
            if value is None:
                if row is not None:
                    delete_ids.append(row.id)
                    before[label], after[label] = num(row.value), None
                    counts["deleted"] += 1
                else:
                    counts["unchanged"] += 1
            elif row is None:
                new_rows.append(models.IndicatorValue(period=period, unit_code=unit,
                                                      indicator=key, value=value, origin=origin,
                                                      updated_by=actor))
                before[label], after[label] = None, num(value)
                counts["created"] += 1
            elif Decimal(row.value) != value:
                before[label], after[label] = num(row.value), num(value)
                row.value, row.origin, row.updated_by = value, origin, actor
                await row.save(update_fields=["value", "origin", "updated_by", "updated_at"])
                counts["updated"] += 1
            else:
                counts["unchanged"] += 1
        if delete_ids:
            await models.IndicatorValue.filter(id__in=delete_ids).delete()
        if new_rows:
            await models.IndicatorValue.bulk_create(new_rows, batch_size=1000)
        if before or after:
            await audit.record("ranking.values.set", "ranking_values", period, before=before,
                               after=after, reason=audit.said(f"ranking.said.values.{origin}"))
    return counts


async def gather_inputs(scheme: Scheme, period: str, units: list[OrgUnit]) -> Inputs:
    """Stored values from the database and plugin values pulled now, for these units."""
    codes = [u.code for u in units]
    wanted = set(codes)
    values: dict[str, dict[str, Decimal | None]] = {c: {} for c in codes}
    stored_keys = [i.key for i in scheme.indicators if i.stored]
    sources = {i.key: i.source for i in scheme.indicators}
    if stored_keys:
        for unit, key, value in await _stored_rows(period, stored_keys):
            if unit in wanted:
                values[unit][key] = value if isinstance(value, Decimal) else Decimal(str(value))
    pulled: dict[str, dict[str, Any]] = {}
    for ind in scheme.indicators:
        key = ind.plugin_key
        if key is None:
            continue
        if key not in pulled:
            src = indicator_source(key)
            if src is None:
                raise Invalid("source_unavailable",
                              f"indicator '{ind.key}': source '{ind.source}' is not provided by "
                              f"any loaded plugin", field=f"indicators.{ind.key}.source")
            try:
                got = await src.values(period, codes)
            except Exception as exc:  # another plugin's failure, named, never a bare 500
                raise KaoheError("source_failed", f"indicator '{ind.key}': source "
                                 f"'{ind.source}' failed: {type(exc).__name__}: {exc}",
                                 status=502, field=f"indicators.{ind.key}.source") from exc
            pulled[key] = got if isinstance(got, dict) else {}
        got = pulled[key]
        for code in codes:
            values[code][ind.key] = _plugin_value(got.get(code), ind)
    return Inputs(period, units, values, sources)


async def _stored_rows(period: str, keys: list[str]) -> list[tuple[str, str, Any]]:
    """(unit, indicator, value) of a period: one plain query, no model objects. A ranking of
    1,500 units reads 55,500 values, and the ORM's per-row conversion cost more than the
    scoring itself. The value comes back as text (SQLite) or Decimal (PostgreSQL)."""
    conn = models.IndicatorValue._meta.db  # the surrounding transaction's, if any
    q = Sql(conn)
    sql = (f'SELECT "unit_code", "indicator", "value" FROM "{models.IndicatorValue._meta.db_table}" '
           f'WHERE "period" = {q.p(1)} AND "indicator" IN ({q.marks(len(keys), start=2)})')
    _, rows = await conn.execute_query(sql, [period, *keys])
    return [(r[0], r[1], r[2]) for r in rows]


def _plugin_value(raw: Any, ind: Indicator) -> Decimal | None:
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, float):
        return Decimal(repr(raw)) if math.isfinite(raw) else None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


async def missing_values(period: str, group_key: str, lang: str = "en") -> dict[str, Any]:
    """What is missing before computing: per unit, the indicators without a value. An unknown
    period is refused first, in `lang`: the plugin sources would otherwise be asked for it
    and fail."""

    _, scheme = await current_scheme()
    group = get_group(scheme, group_key)
    if not period or not await Period.exists(code=period):
        raise NotFound("unknown_period", i18n.t("ranking.unknown_period", lang, period=period or ""),
                       field="period", params={"period": period or ""})
    units = await group_units(group)
    inputs = await gather_inputs(scheme, period, units)
    out = []
    for unit in units:
        missing = [i.key for i in scheme.indicators if inputs.values[unit.code].get(i.key) is None]
        if missing:
            out.append({"unit_code": unit.code, "unit_name": unit.name, "indicators": [
                {"key": k, "name": scheme.by_key[k].name, "source": scheme.by_key[k].source}
                for k in missing]})
    return {"period": period, "group": group.key, "policy": scheme.missing,
            "units": len(units), "missing_values": sum(len(m["indicators"]) for m in out),
            "missing": out}


async def grid(period: str, group: Group, scheme: Scheme) -> dict[str, Any]:
    """The values grid: units as rows, stored indicators as columns, with origins."""
    units = await group_units(group)
    keys = [i.key for i in scheme.indicators if i.stored]
    rows = await models.IndicatorValue.filter(period=period, indicator__in=keys,
                                              unit_code__in=[u.code for u in units])
    cells = {(r.unit_code, r.indicator): r for r in rows}
    return {"units": units, "indicators": [scheme.by_key[k] for k in keys], "cells": cells}
