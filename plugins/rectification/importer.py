"""Bulk registration (信息收集) from an Excel upload, through the kit's preview/confirm path."""

from __future__ import annotations

from typing import Any

from tortoise.transactions import in_transaction

from core.contrib import Importer
from core.i18n import t
from core.orgs import OrgUnit, Period
from core.roles import ADMIN_ONLY
from core.uploads import ColumnSpec, Preview, UploadRejected, read_table
from core.xlsx import Column, WorkbookBuilder
from plugins.rectification import workflow
from plugins.rectification.common import BULK_REASON, actor_for
from plugins.rectification.config import Definition, current_definition
from plugins.rectification.models import SEVERITIES

NAME = "rectification-tasks"


def _get(ctx: Any, key: str, default: Any = None) -> Any:
    if isinstance(ctx, dict):
        return ctx.get(key, default)
    return getattr(ctx, key, default)


def _choices(kind: str, codes: list[str]) -> dict[str, str]:
    """People may type the Chinese label, the English label or the code."""
    out = {}
    for code in codes:
        for lang in ("zh", "en"):
            out[t(f"rectification.{kind}.{code}", lang)] = code
        out[code] = code
    return out


def columns(defn: Definition) -> list[ColumnSpec]:
    cats = {name: code for code, name in defn.categories.items()} | {c: c for c in defn.categories}
    return [
        ColumnSpec("period", "考核期", required=True, aliases=("period",)),
        ColumnSpec("source", "问题来源", required=True, choices=_choices("source", defn.sources)),
        ColumnSpec("category", "问题类别", required=True, choices=cats),
        ColumnSpec("severity", "严重程度", required=True,
                   choices=_choices("severity", list(SEVERITIES))),
        ColumnSpec("title", "问题标题", required=True),
        ColumnSpec("description", "问题描述", optional=True),
        ColumnSpec("unit", "责任单位代码", required=True, kind="code"),
        ColumnSpec("responsible_person", "责任人", optional=True),
    ]


async def _read(data: bytes, ctx: Any):
    defn = await current_definition()
    cols = columns(defn)
    lang = _get(ctx, "lang", "zh")
    table = read_table(data, _get(ctx, "filename", "upload.xlsx"), cols, lang=lang,
                       settings=_get(ctx, "settings"))
    units = set(await OrgUnit.all().values_list("code", flat=True))
    periods = dict(await Period.all().values_list("code", "status"))
    for row_no, values in table.rows:
        unit = str(values.get("unit") or "")
        if unit and unit not in units:
            table.add_error(row_no, "unit", t("upload.rows.unknown_unit", lang, code=unit),
                            "责任单位代码")
        period = str(values.get("period") or "")
        if period and period not in periods:
            table.add_error(row_no, "period", t("upload.rows.unknown_period", lang, period=period),
                            "考核期")
        elif periods.get(period) == "closed":
            table.add_error(row_no, "period", t("upload.rows.closed_period", lang, period=period),
                            "考核期")
    return defn, cols, table


def _shown(values: dict[str, Any], defn: Definition, lang: str) -> dict[str, Any]:
    """A row as the preview shows it: the source, category and severity by their names."""
    return {**values, "source": t(f"rectification.source.{values['source']}", lang),
            "category": defn.categories.get(values["category"], values["category"]),
            "severity": t(f"rectification.severity.{values['severity']}", lang)}


async def preview(data: bytes, ctx: Any) -> Preview:
    defn, cols, table = await _read(data, ctx)
    good = table.valid_rows()
    lang = _get(ctx, "lang", "zh")
    return Preview(columns=[(c.key, c.header) for c in cols],
                   create=[{"row": n, "values": _shown(v, defn, lang)} for n, v in good],
                   errors=table.errors,
                   summary=t("upload.rows.summary", _get(ctx, "lang", "zh"), good=len(good),
                             errors=len(table.errors)))


async def confirm(data: bytes, ctx: Any) -> dict[str, Any]:
    """Register every row in one transaction; any error refuses the whole file."""
    defn, _, table = await _read(data, ctx)
    if table.errors:
        raise UploadRejected("upload_has_errors", t("upload.rows.has_errors",
                                                    _get(ctx, "lang", "zh"),
                                                    count=len(table.errors)), errors=table.errors)
    actor = await actor_for(_get(ctx, "user"))
    numbers = []
    async with in_transaction():
        for _row_no, values in table.rows:
            task = await workflow.register(actor, {**values, "reason": BULK_REASON},
                                           defn=defn)
            numbers.append(task.number)
    return {"created": len(numbers), "numbers": numbers}


def done(result: dict[str, Any], lang: str) -> str:
    return t("rectification.created", lang, n=result["created"])


async def template(ctx: Any = None) -> bytes:
    defn = await current_definition()
    wb = WorkbookBuilder()
    cols = [Column(c.key, c.header) for c in columns(defn)]
    example = {"period": "2014", "source": t("rectification.source.grid", "zh"),
               "category": next(iter(defn.categories.values())),
               "severity": t("rectification.severity.general", "zh"),
               "title": "示例：小区道路破损", "description": "", "unit": "520102",
               "responsible_person": "张三"}
    wb.add_table(sheet="整改事项", title="整改事项批量登记", subtitle="每行一件问题；删除本示例行后填写",
                 columns=cols, rows=[example])
    return wb.to_bytes()


def importers() -> list[Importer]:
    return [Importer(NAME, "rectification.import_title", preview, confirm, template,
                     roles=ADMIN_ONLY, done=done, back="/rectification/queue?step=registered",
                     template_filename="rectification-tasks.xlsx")]
