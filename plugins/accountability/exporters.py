"""Workbooks: 责任追究台账 (accountability-ledger) and the per-unit summary.

The ledger of a period lists the records of the period (the record's own period, or one
inside its dates: a year holds its quarters) and every record whose measure was carried out
within its dates. In the summary the counts by measure and the deduction points follow the
indicators (measures carried out in the period), the status counts follow the ledger; every
unit of the level below the scope is listed, with zeros where it has no record. A workbook
with no record says so in its subtitle (本期无记录).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from core import i18n
from core.contrib import Exporter, ExportRequest
from core.errors import Invalid
from core.orgs import OrgUnit
from core.roles import ADMIN_LEADER
from plugins.accountability.ladder import MEASURES
from plugins.accountability.models import Appeal, Record
from plugins.accountability.services import counted, local_date, period_dates, period_records

PROPOSED_FILL = "FFF2CC"


async def _scope_unit(request: ExportRequest) -> OrgUnit | None:
    if not request.unit:
        return None
    unit = await OrgUnit.get_or_none(code=request.unit)
    if unit is None:
        raise Invalid("unknown_unit", f"--unit: no org unit with code '{request.unit}'", field="unit")
    return unit


async def ledger_records(period: str, unit: OrgUnit | None = None) -> list[Record]:
    return await period_records(period, unit)


async def _latest_appeals(record_ids: list[int]) -> dict[int, Appeal]:
    latest: dict[int, Appeal] = {}
    for appeal in await Appeal.filter(record_id__in=record_ids).order_by("id"):
        latest[appeal.record_id] = appeal
    return latest


def _appeal_text(appeal: Appeal | None, lang: str) -> str:
    if appeal is None:
        return ""
    text = i18n.t(f"accountability.appeal_status.{appeal.status}", lang)
    if appeal.status == "reduced":
        text += f" {appeal.points_before}→{appeal.points_after}"
    return text


def _stamp(request: ExportRequest, unit: OrgUnit | None, lang: str, empty: bool = False) -> str:
    from core.xlsx import period_subtitle

    text = period_subtitle(request.period, unit.name if unit else None, lang)
    return f"{i18n.t('accountability.export.no_records', lang)} · {text}" if empty else text


async def build_ledger(request: ExportRequest) -> bytes:
    from core.xlsx import Column, WorkbookBuilder, no_records

    lang = request.lang
    unit = await _scope_unit(request)
    records = await ledger_records(request.period or "", unit)
    appeals = await _latest_appeals([r.id for r in records])
    c = lambda key: i18n.t(f"accountability.col.{key}", lang)  # noqa: E731
    columns = [
        Column("no", c("no"), kind="int"), Column("record", c("record"), kind="int"),
        Column("unit_code", c("unit_code"), kind="text"), Column("unit", c("unit"), kind="text"),
        Column("person", c("person"), kind="text"), Column("trigger", c("trigger"), kind="text"),
        Column("ref", c("ref"), kind="text"), Column("title", c("title"), kind="text"),
        Column("period", c("period"), kind="text"), Column("measure", c("measure"), kind="text"),
        Column("points", c("points"), kind="float"), Column("status", c("status"), kind="text"),
        Column("proposed_on", c("proposed_on"), kind="date"),
        Column("approved_on", c("approved_on"), kind="date"),
        Column("carried_out_on", c("carried_out_on"), kind="date"),
        Column("carried_out_by", c("carried_out_by"), kind="text"),
        Column("appeal", c("appeal"), kind="text"), Column("link", c("link"), kind="text"),
    ]
    rows = []
    for i, r in enumerate(records, 1):
        person = r.responsible_person or (i18n.t("accountability.target.head", lang)
                                          if r.target == "head" else "")
        rows.append({
            "no": i, "record": r.id, "unit_code": r.unit.code, "unit": r.unit.name,
            "person": person, "trigger": i18n.t(f"accountability.trigger.{r.trigger_type}", lang),
            "ref": r.trigger_ref, "title": r.trigger_title, "period": r.period,
            "measure": i18n.t(f"accountability.measure.{r.measure}", lang),
            "points": float(r.points), "status": i18n.t(f"accountability.status.{r.status}", lang),
            "proposed_on": local_date(r.created_at), "approved_on": local_date(r.approved_at),
            "carried_out_on": r.carried_out_on, "carried_out_by": r.carried_out_by,
            "appeal": _appeal_text(appeals.get(r.id), lang), "link": r.trigger_link,
            "_status": r.status,
        })
    wb = WorkbookBuilder(write_only=False, lang=lang)
    title = i18n.t("accountability.export.ledger", lang)
    wb.add_table(sheet=title, title=title, subtitle=_stamp(request, unit, lang, not rows),
                 columns=columns, rows=rows, total_row=None, keys=4, empty_text=no_records(lang),
                 row_fill=lambda row: PROPOSED_FILL if row.get("_status") == "proposed" else None)
    return wb.to_bytes()


async def summary_units(unit: OrgUnit | None) -> list[OrgUnit]:
    """The units a summary always lists: the scope's children, or the county-level units."""
    if unit is not None:
        children = await OrgUnit.filter(parent_id=unit.id).order_by("sort_order", "code")
        return list(children) or [unit]
    return list(await OrgUnit.filter(level="district").order_by("sort_order", "code"))


async def summary_rows(period: str, unit: OrgUnit | None = None) -> list[dict[str, Any]]:
    """One row per unit with records, and a row of zeros for each listed unit without any:
    status counts (ledger) and deductions (indicators)."""
    records = await ledger_records(period, unit)
    status_count: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in records:
        status_count[r.unit.code][r.status] += 1
    appeals = await Appeal.filter(record_id__in=[r.id for r in records])
    appealed: dict[str, list[Appeal]] = defaultdict(list)
    by_id = {r.id: r for r in records}
    for a in appeals:
        appealed[by_id[a.record_id].unit.code].append(a)
    units = {r.unit.code: r.unit for r in records}
    for u in await summary_units(unit):
        units.setdefault(u.code, u)
    start, end = await period_dates(period)
    # Deductions of the unit itself (not its subtree) so that the column adds up.
    own: dict[str, list[tuple[str, Decimal]]] = defaultdict(list)
    for r, measure, points in await counted(start, end):
        if r.unit.code in units:
            own[r.unit.code].append((measure, points))
    rows = []
    for code, u in sorted(units.items(), key=lambda kv: (kv[1].path, kv[0])):
        s = status_count[code]
        row: dict[str, Any] = {
            "unit_code": code, "unit": u.name, "records": sum(s.values()),
            "proposed": s["proposed"], "standing": s["approved"] + s["carried_out"] + s["closed"],
            "dismissed": s["dismissed"], "withdrawn": s["withdrawn"],
            "appeals": len(appealed[code]),
            "appeals_changed": sum(1 for a in appealed[code] if a.status in ("reduced", "withdrawn")),
            "points": float(sum((p for _, p in own[code]), Decimal(0))),
        }
        for m in MEASURES:
            row[f"count_{m}"] = sum(1 for mm, _ in own[code] if mm == m)
        rows.append(row)
    return rows


async def build_summary(request: ExportRequest) -> bytes:
    from core.xlsx import Column, WorkbookBuilder, no_records

    lang = request.lang
    unit = await _scope_unit(request)
    rows = await summary_rows(request.period or "", unit)
    if not rows:  # a per-unit table: the units are listed with zeros
        rows = await _zero_rows(unit)
    c = lambda key: i18n.t(f"accountability.col.{key}", lang)  # noqa: E731
    columns = [Column("unit_code", c("unit_code"), kind="text"), Column("unit", c("unit"), kind="text"),
               Column("records", c("records"), kind="int"), Column("proposed", c("proposed"), kind="int"),
               Column("standing", c("standing"), kind="int"),
               Column("dismissed", c("dismissed"), kind="int"),
               Column("withdrawn", c("withdrawn"), kind="int")]
    columns += [Column(f"count_{m}", i18n.t(f"accountability.measure.{m}", lang), kind="int")
                for m in MEASURES]
    columns += [Column("points", c("points_carried_out"), kind="float"),
                Column("appeals", c("appeals"), kind="int"),
                Column("appeals_changed", c("appeals_changed"), kind="int")]
    total: dict[str, Any] | None = None
    empty = not any(r["records"] or r["points"] for r in rows)
    if rows:
        total = {"unit_code": i18n.t("common.total", lang)}
        for col in columns[2:]:
            values = [r[col.key] for r in rows]
            total[col.key] = (float(sum((Decimal(str(v)) for v in values), Decimal(0)))
                              if col.kind == "float" else sum(values))
    wb = WorkbookBuilder(write_only=False, lang=lang)
    title = i18n.t("accountability.export.summary", lang)
    wb.add_table(sheet=title, title=title, subtitle=_stamp(request, unit, lang, empty),
                 columns=columns, rows=rows, total_row=total, keys=2, empty_text=no_records(lang))
    return wb.to_bytes()


async def _zero_rows(unit: OrgUnit | None) -> list[dict[str, Any]]:
    """The units directly below the scope (the districts for the city), every count 0."""
    if unit is None:
        unit = await OrgUnit.filter(parent_id=None).order_by("sort_order", "code").first()
    units = await OrgUnit.filter(parent_id=unit.id).order_by("sort_order", "code") if unit else []
    keys = ("records", "proposed", "standing", "dismissed", "withdrawn", "appeals",
            "appeals_changed", *(f"count_{m}" for m in MEASURES))
    return [{"unit_code": u.code, "unit": u.name, "points": 0.0, **dict.fromkeys(keys, 0)}
            for u in units or ([unit] if unit else [])]


async def _criticism(request: ExportRequest) -> bytes:
    from plugins.accountability.criticism import build_criticism

    return await build_criticism(request)


def exporters() -> list[Exporter]:
    return [
        Exporter("accountability-ledger", "责任追究台账", build_ledger, roles=ADMIN_LEADER),
        Exporter("accountability-summary", "责任追究情况汇总", build_summary,
                 roles=ADMIN_LEADER),
        Exporter("accountability-criticism", "通报批评", _criticism, roles=ADMIN_LEADER,
                 needs_period=False, kind="document"),
    ]
