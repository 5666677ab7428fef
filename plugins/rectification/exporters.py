"""Workbooks: 整改台账 (ledger), 超期清单 (overdue list), per-unit summary."""

from __future__ import annotations

import datetime as dt

from core.contrib import Exporter, ExportRequest
from core.i18n import t
from core.roles import ADMIN_LEADER_OFFICER
from core.xlsx import Column, WorkbookBuilder, no_records, period_subtitle
from plugins.rectification import queries
from plugins.rectification.config import current_definition

FILLS = {"overdue": "FFC7CE", "closed_late": "FFEB9C", "closed_on_time": "C6EFCE",
         "rejected": "D9D9D9"}


def _label(kind: str, value: str, lang: str) -> str:
    return t(f"rectification.{kind}.{value}", lang)


def _cols(lang: str, keys: list[tuple[str, str]]) -> list[Column]:
    return [Column(key, t(f"rectification.col.{key}", lang), kind=kind) for key, kind in keys]


def _as_of(req: ExportRequest) -> dt.date | None:
    """`options["as_of"]` (yyyy-mm-dd) counts days overdue up to that day instead of today."""
    value = req.options.get("as_of")
    return dt.date.fromisoformat(str(value)) if value else None


def _subtitle(req: ExportRequest) -> str:
    return period_subtitle(req.period, req.unit, req.lang)


def _dress(rows: list[dict], lang: str, categories: dict[str, str]) -> list[dict]:
    for r in rows:
        # The category's name from the assessment definition, like 来源 beside it.
        r["category"] = categories.get(r["category"], r["category"])
        r["status_text"] = _label("status", r["status"], lang)
        r["severity_text"] = _label("severity", r["severity"], lang)
        r["source_text"] = _label("source", r["source"], lang)
        r["unit"] = f"{r['unit__name']}({r['unit__code']})"
        r["closed_on"] = r["closed_at"]
        r["dispatched_on"] = r["dispatched_at"]
        r["registered_on"] = r["registered_at"]
        r["late_text"] = t("rectification.yes" if r["closed_late"] else "rectification.no", lang) \
            if r["status"] in queries.CLOSED else ""
    return rows


LEDGER = [("number", "text"), ("title", "text"), ("source_text", "text"), ("category", "text"),
          ("severity_text", "text"), ("unit", "text"), ("responsible_person", "text"),
          ("status_text", "text"), ("registered_on", "datetime"), ("dispatched_on", "datetime"),
          ("deadline", "date"), ("days_overdue", "int"), ("extension_count", "int"),
          ("fail_count", "int"), ("closed_on", "datetime"), ("late_text", "text"),
          ("satisfaction", "int")]


async def build_ledger(req: ExportRequest) -> bytes:
    categories = (await current_definition()).categories
    rows = _dress(await queries.with_days(await queries.task_rows(req.period, req.unit),
                                         _as_of(req)), req.lang, categories)
    wb = WorkbookBuilder(write_only=len(rows) > 5000, lang=req.lang)
    wb.add_table(sheet=t("rectification.export.ledger", req.lang),
                 title=t("rectification.export.ledger_title", req.lang), subtitle=_subtitle(req),
                 columns=_cols(req.lang, LEDGER), rows=rows, keys=2,
                 empty_text=no_records(req.lang),
                 row_fill=lambda r: FILLS.get(queries.state_of(r)))
    return wb.to_bytes()


OVERDUE = [("number", "text"), ("title", "text"), ("unit", "text"), ("responsible_person", "text"),
           ("severity_text", "text"), ("deadline", "date"), ("days_overdue", "int"),
           ("overdue_level", "int"), ("extension_count", "int"), ("fail_count", "int")]


async def build_overdue(req: ExportRequest) -> bytes:
    rows = await queries.task_rows(req.period, req.unit, status="dispatched", overdue=True)
    rows = _dress(await queries.with_days(rows, _as_of(req)), req.lang,
                  (await current_definition()).categories)
    rows.sort(key=lambda r: (-r["days_overdue"], r["deadline"], r["number"]))  # worst first
    wb = WorkbookBuilder(lang=req.lang)
    wb.add_table(sheet=t("rectification.export.overdue", req.lang),
                 title=t("rectification.export.overdue_title", req.lang), subtitle=_subtitle(req),
                 columns=_cols(req.lang, OVERDUE), rows=rows, keys=2,
                 empty_text=no_records(req.lang),
                 row_fill=lambda r: FILLS["overdue"] if r["overdue_level"] >= 15 else None)
    return wb.to_bytes()


SUMMARY = [("unit_name", "text"), ("unit_code", "text"), ("received", "int"),
           ("closed_on_time", "int"), ("closed_late", "int"), ("open", "int"), ("overdue", "int"),
           ("on_time_rate", "percent")]


async def build_summary(req: ExportRequest) -> bytes:
    rows, total = await queries.summary_by_unit(req.period, req.unit)
    total["unit_name"] = t("rectification.total", req.lang)
    wb = WorkbookBuilder(lang=req.lang)
    subtitle = _subtitle(req)
    if not total["received"]:  # every unit is still listed, with zeros
        subtitle += " · " + no_records(req.lang)
    wb.add_table(sheet=t("rectification.export.summary", req.lang),
                 title=t("rectification.export.summary_title", req.lang), subtitle=subtitle,
                 keys=2, empty_text=no_records(req.lang),
                 columns=_cols(req.lang, SUMMARY), rows=rows, total_row=total,
                 row_fill=lambda r: FILLS["overdue"] if r["overdue"] else None)
    return wb.to_bytes()


# Unit officers get their own subtree: core.exports narrows the request to it.
ROLES = ADMIN_LEADER_OFFICER
_EXPORTERS = [
    Exporter("rectification-ledger", "整改台账", build_ledger, roles=ROLES),
    Exporter("rectification-overdue", "超期清单", build_overdue, roles=ROLES),
    Exporter("rectification-unit-summary", "整改情况分单位统计", build_summary, roles=ROLES),
]
BUILDERS = {e.name: e for e in _EXPORTERS}


def exporters() -> list[Exporter]:
    return list(_EXPORTERS)
