"""Notes from a workbook, through core's import flow: columns, a planner and a saver only
(core gives the pages, the API, `kaohe import example-notes FILE` and the marked workbook)."""

from __future__ import annotations

from typing import Any

from core import audit
from core.contrib import Importer, ImportField
from core.i18n import t
from core.orgs import OrgUnit
from core.roles import ADMIN_ONLY
from core.uploads import ColumnSpec, Preview, UploadRejected, read_table
from core.xlsx import Column, WorkbookBuilder
from kaohe_example.models import Note

NAME = "example-notes"


def columns(lang: str) -> list[ColumnSpec]:
    return [ColumnSpec("unit", t("example.col_unit", lang), required=True, kind="code",
                       aliases=("单位代码", "unit code")),
            ColumnSpec("text", t("example.text", lang), required=True, aliases=("内容", "text"),
                       check=lambda v: t("example.too_long", lang) if len(str(v)) > 500 else None)]


async def _plan(data: bytes, ctx: Any) -> tuple[list[ColumnSpec], Any, dict[str, int]]:
    cols = columns(ctx.lang)
    table = read_table(data, ctx.filename, cols, lang=ctx.lang, settings=ctx.settings)
    wanted = {str(v.get("unit") or "") for _, v in table.rows}
    units = dict(await OrgUnit.filter(code__in=sorted(wanted)).values_list("code", "id"))
    for row_no, values in table.rows:
        code = str(values.get("unit") or "")
        if code and code not in units:
            table.add_error(row_no, "unit", t("upload.rows.unknown_unit", ctx.lang, code=code),
                            cols[0].header)
    return cols, table, units


async def preview(data: bytes, ctx: Any) -> Preview:
    cols, table, _ = await _plan(data, ctx)
    good = table.valid_rows()
    return Preview(columns=[(c.key, c.header) for c in cols],
                   create=[{"row": n, "values": v} for n, v in good], errors=table.errors,
                   summary=t("upload.rows.summary", ctx.lang, good=len(good),
                             errors=len(table.errors)))


async def confirm(data: bytes, ctx: Any) -> dict[str, int]:
    """Plan the file again (it may have been staged before a unit was removed) and save every
    row, inside the flow's transaction."""
    _, table, units = await _plan(data, ctx)
    if table.errors:
        raise UploadRejected("upload_has_errors", t("upload.rows.has_errors", ctx.lang,
                                                    count=len(table.errors)), errors=table.errors)
    seen = bool(ctx.fields.get("seen"))
    by = ctx.user.username if ctx.user else ""
    notes = [Note(unit_id=units[str(v["unit"])], text=str(v["text"]), seen=seen, created_by=by)
             for _, v in table.rows]
    await Note.bulk_create(notes)
    await audit.record("example.note.import", "example_note", ctx.filename,
                       after={"created": len(notes), "seen": seen})
    return {"created": len(notes)}


def done(result: dict[str, int], lang: str) -> str:
    return t("example.imported", lang, n=result["created"])


async def template(ctx: Any = None) -> bytes:
    lang = getattr(ctx, "lang", "zh")
    wb = WorkbookBuilder()
    wb.add_table(sheet=t("example.title", lang), title=t("example.title", lang),
                 columns=[Column(c.key, c.header) for c in columns(lang)],
                 rows=[{"unit": "520102", "text": t("example.sample", lang)}])
    return wb.to_bytes()


def importers() -> list[Importer]:
    return [Importer(NAME, "example.import", preview, confirm, template, roles=ADMIN_ONLY,
                     back="/example", done=done, template_filename="example-notes.xlsx",
                     fields=(ImportField("seen", "example.mark_seen", kind="bool"),))]
