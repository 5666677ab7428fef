"""Named workbooks, built through the platform's Excel kit."""

from __future__ import annotations

from core.contrib import Exporter, ExportRequest
from core.i18n import t
from core.roles import ADMIN_LEADER
from core.xlsx import GREY, Column, WorkbookBuilder, period_subtitle
from kaohe_example import services


async def build_notes(request: ExportRequest) -> bytes:
    lang = request.lang
    rows = [r for r in await services.notes(limit=100_000)
            if not request.unit or r["unit"] == request.unit]
    cols = [Column("id", t("example.id", lang), kind="int"),
            Column("unit_name", t("example.unit", lang)),
            Column("text", t("example.text", lang), width=50, wrap=True),
            Column("seen", t("example.seen", lang), kind="int"),
            Column("created_at", t("example.created_at", lang), kind="datetime")]
    wb = WorkbookBuilder()
    wb.add_table(sheet=t("example.title", lang), title=t("example.title", lang),
                 subtitle=period_subtitle(request.period, request.unit, lang), columns=cols,
                 rows=rows, row_fill=lambda r: None if r["seen"] else GREY)
    return wb.to_bytes()


def exporters() -> list[Exporter]:
    return [Exporter("example-notes", "示例记录", build_notes, roles=ADMIN_LEADER,
                     needs_period=False)]
