"""Indicator values by Excel: a template per period and peer group (units as rows, the
entered indicators as columns, current values filled in), and its upload through the kit's
preview/confirm path. A blank cell in an upload leaves the value as it is (clear values in
the grid page)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core import i18n, uploads
from core.uploads import ColumnSpec, Preview
from core.xlsx import Column, WorkbookBuilder, period_subtitle
from plugins.ranking import models
from plugins.ranking.scheme import Scheme
from plugins.ranking.scoring import num
from plugins.ranking.services import current_scheme, get_group, group_units
from plugins.ranking.values import Entry, parse_value, set_values

IMPORTER = "ranking-values"
SHEET = "指标数据"


def _header(ind: Any) -> str:
    return ind.name


async def template(period: str, group_key: str) -> bytes:
    _, scheme = await current_scheme()
    group = get_group(scheme, group_key)
    units = await group_units(group)
    stored = [i for i in scheme.indicators if i.stored]
    current = {(v.unit_code, v.indicator): v.value for v in await models.IndicatorValue.filter(
        period=period, indicator__in=[i.key for i in stored])}
    cols = [Column("unit_code", "单位代码"), Column("unit_name", "单位名称")]
    cols += [Column(i.key, _header(i), kind="int" if i.integer else "float",
                    number_format=None if i.integer else "0.####") for i in stored]
    rows = []
    for u in units:
        row: dict[str, Any] = {"unit_code": u.code, "unit_name": u.name}
        for i in stored:
            value = current.get((u.code, i.key))
            row[i.key] = None if value is None else Decimal(value)
        rows.append(row)
    wb = WorkbookBuilder()
    wb.add_table(sheet=SHEET, title=f"指标数据录入 · {group.name}",
                 subtitle=period_subtitle(period) + " · 单位代码勿改；空白表示不修改",
                 columns=cols, rows=rows, autofilter=False)
    wb.add_notes("填写说明", "填写说明", [
        (i.name, f"代码 {i.key}；计量单位 {i.unit or '-'}；"
                 f"{'整数；' if i.integer else ''}"
                 f"范围 {num(i.range_min) if i.range_min is not None else '-∞'}"
                 f"–{num(i.range_max) if i.range_max is not None else '∞'}")
        for i in stored])
    return wb.to_bytes()


def _specs(scheme: Scheme) -> list[ColumnSpec]:
    specs = [ColumnSpec("unit_code", "单位代码", required=True, kind="code"),
             ColumnSpec("unit_name", "单位名称", optional=True)]
    specs += [ColumnSpec(i.key, _header(i), kind="text", optional=True, aliases=(i.key,))
              for i in scheme.indicators if i.stored]
    return specs


@dataclass
class _Read:
    scheme: Scheme
    table: uploads.Table
    entries: list[Entry]
    current: dict[tuple[str, str], Any]
    row_of: dict[str, int]  # unit code → the one row that set its values


async def _read(data: bytes, filename: str, period: str, group_key: str, settings: Any,
                lang: str = "zh") -> _Read:
    _, scheme = await current_scheme()
    group = get_group(scheme, group_key)
    members = {u.code: u for u in await group_units(group)}
    table = uploads.read_table(data, filename, _specs(scheme), sheet=SHEET, settings=settings,
                               lang=lang)
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    stored = [i for i in scheme.indicators if i.stored]
    for row_no, values in table.rows:
        code = values.get("unit_code") or ""
        if code not in members:
            table.add_error(row_no, "unit_code", i18n.t("upload.rows.not_in_group", lang,
                                                        code=code, group=group.name), "单位代码")
            continue
        if code in seen:
            # A repeated unit is refused as a row: its values are neither taken nor shown
            # under the first row's number.
            table.add_error(row_no, "unit_code", i18n.t(
                "upload.rows.duplicate", lang, first=seen[code], what=f"单位代码 {code}"),
                "单位代码")
            continue
        seen[code] = row_no
        for ind in stored:
            raw = values.get(ind.key)
            if raw is None or str(raw).strip() == "":
                continue  # blank: leave as it is
            value, problem = parse_value(ind, raw, lang)
            if problem:
                table.add_error(row_no, ind.key, problem, _header(ind))
                continue
            entries.append(Entry(code, ind.key, num(value), where=f"row {row_no}"))
    current = {(v.unit_code, v.indicator): v.value for v in await models.IndicatorValue.filter(
        period=period, indicator__in=[i.key for i in stored],
        unit_code__in=list(seen))}
    return _Read(scheme, table, entries, current, seen)


async def plan(data: bytes, filename: str, period: str, group_key: str,
               settings: Any, lang: str = "zh") -> Preview:
    """What confirming would change: new values, changed values, cell errors."""
    read = await _read(data, filename, period, group_key, settings, lang)
    scheme, current = read.scheme, read.current
    by_unit: dict[str, list[Entry]] = {}
    for e in read.entries:
        by_unit.setdefault(e.unit, []).append(e)
    pv = Preview(columns=[("unit_code", "单位代码"), ("values", "新填数据")],
                 errors=read.table.errors)
    for unit, items in by_unit.items():
        changes = []
        for e in items:
            before = current.get((unit, e.indicator))
            if before is not None and Decimal(before) == Decimal(e.raw):
                pv.unchanged += 1
                continue
            changes.append({"field": scheme.by_key[e.indicator].name,
                            "before": num(Decimal(before)) if before is not None else None,
                            "after": e.raw})
        if not changes:
            continue
        row = read.row_of[unit]
        if all(c["before"] is None for c in changes):
            pv.create.append({"row": row, "values": {
                "unit_code": unit, "values": "；".join(f"{c['field']}={c['after']}"
                                                      for c in changes)}})
        else:
            pv.change.append({"row": row, "label": unit, "changes": changes})
    group = next((g for g in scheme.groups if g.key == group_key), None)
    pv.summary = i18n.t("ranking.values_preview", lang, period=period,
                        group=group.name if group else group_key)
    return pv


async def apply(data: bytes, filename: str, period: str, group: str, user: Any,
                settings: Any) -> dict[str, int]:
    read = await _read(data, filename, period, group, settings)
    table, entries = read.table, read.entries
    if table.errors:  # the data changed under the preview (e.g. a unit left the group)
        from core.errors import Invalid

        raise Invalid("upload_invalid", "; ".join(str(e) for e in table.errors[:5]),
                      details=[e.as_dict() for e in table.errors])
    return await set_values(period, group, entries, origin="upload",
                            actor=getattr(user, "username", "") or "upload")


# -- the kaohe_importers entry: core's import flow calls these (ctx: ImportContext) ------------
async def period_choices(ctx: Any) -> list[tuple[str, str]]:
    from core.orgs import Period

    return [(p.code, p.code) for p in await Period.all().order_by("-end", "start")]


async def group_choices(ctx: Any) -> list[tuple[str, str]]:
    _, scheme = await current_scheme(required=False)
    return [(g.key, g.name) for g in scheme.groups] if scheme else []


async def importer_preview(data: bytes, ctx: Any) -> Preview:
    return await plan(data, ctx.filename, ctx.fields["period"], ctx.fields["group"],
                      ctx.settings, ctx.lang)


async def importer_confirm(data: bytes, ctx: Any) -> dict[str, Any]:
    counts = await apply(data, ctx.filename, ctx.fields["period"], ctx.fields["group"],
                         ctx.user, ctx.settings)
    return {**counts, "period": ctx.fields["period"], "group": ctx.fields["group"]}


def importer_done(result: dict[str, Any], lang: str) -> str:
    return i18n.t("ranking.values_saved", lang, **{k: v for k, v in result.items()
                                                   if k not in ("period", "group")})


def importer_back(fields: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return f"/ranking/values?{urlencode({k: fields.get(k, '') for k in ('period', 'group')})}"


async def importer_template(ctx: Any = None) -> bytes:
    fields = getattr(ctx, "fields", {}) or {}
    return await template(fields.get("period", ""), fields.get("group", ""))
