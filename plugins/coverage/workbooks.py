"""The plugin's workbooks people fill in: the report template and the registry sheet.

Columns are declared once (ColumnSpec for reading through core.uploads, Column for writing
through core.xlsx). A template carries a hidden sheet `_kaohe` naming what it is for and
which period, so a template of another period is refused instead of misfiled.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from openpyxl.worksheet.datavalidation import DataValidation

from core import i18n
from core.uploads import (
    WITH_CSV,
    WORKBOOKS,
    ColumnSpec,
    Table,
    UploadRejected,
    read_grid,
    read_table,
)
from core.xlsx import FIRST_DATA_ROW, Column, WorkbookBuilder, period_subtitle
from plugins.coverage import codes

META_SHEET = "_kaohe"
REPORT_TEMPLATE = "coverage-reports"
REGISTRY_TEMPLATE = "coverage-registry"
REPORT_SHEET = "报送"
REGISTRY_SHEET = "组织名册"
# Rows a template prepares drop-downs for, beyond the pre-filled ones.
SPARE_ROWS = 200


def _nonneg(lang: str):
    def check(value: Any) -> str | None:
        if isinstance(value, int) and value < 0:
            return i18n.t("coverage.err.negative", lang, value=value)
        return None
    return check


def _choices(labels: Mapping[str, str]) -> dict[str, str]:
    # People pick the Chinese label; the code is accepted too (API clients, English users).
    return {**{label: code for code, label in labels.items()}, **{c: c for c in labels}}


# -- reports -------------------------------------------------------------------------------
REPORT_FIELDS = ("party_members", "formal_members", "probationary_members", "party_org_change",
                 "party_org_type", "change_date", "secretary", "visits", "activities", "remarks")
REPORT_HEADERS = {
    "uscc": "统一社会信用代码", "name": "组织名称", "kind": "类别", "community": "所在社区",
    "party_members": "党员总数", "formal_members": "正式党员", "probationary_members": "预备党员",
    "party_org_change": "党组织变动", "party_org_type": "党组织类型", "change_date": "变动日期",
    "secretary": "党组织书记", "visits": "走访次数", "activities": "开展活动次数", "remarks": "备注",
}


def report_specs(lang: str = "zh") -> list[ColumnSpec]:
    """Counts are not `required` here: a row left blank is simply not reported yet; a row
    with any report value must have all counts (checked in reporting.py)."""
    nonneg = _nonneg(lang)
    h = REPORT_HEADERS
    return [
        # 组织名称, 类别 and 所在社区 are there for people; the credit code decides, so they
        # are not read (unknown columns are allowed).
        ColumnSpec("uscc", h["uscc"], required=True, kind="code", aliases=("uscc",)),
        ColumnSpec("party_members", h["party_members"], kind="int", check=nonneg),
        ColumnSpec("formal_members", h["formal_members"], kind="int", check=nonneg),
        ColumnSpec("probationary_members", h["probationary_members"], kind="int", check=nonneg),
        ColumnSpec("party_org_change", h["party_org_change"], optional=True,
                   choices=_choices(codes.CHANGE_LABELS)),
        ColumnSpec("party_org_type", h["party_org_type"], optional=True,
                   choices=_choices(codes.PARTY_ORG_TYPE_LABELS)),
        ColumnSpec("change_date", h["change_date"], kind="date", optional=True),
        ColumnSpec("secretary", h["secretary"], optional=True),
        ColumnSpec("visits", h["visits"], kind="int", optional=True, check=nonneg),
        ColumnSpec("activities", h["activities"], kind="int", optional=True, check=nonneg),
        ColumnSpec("remarks", h["remarks"], optional=True),
    ]


def report_columns() -> list[Column]:
    h = REPORT_HEADERS
    return [
        Column("uscc", h["uscc"], width=22), Column("name", h["name"], width=30),
        Column("kind", h["kind"], width=10), Column("community", h["community"], width=16),
        Column("party_members", h["party_members"], kind="int", width=9),
        Column("formal_members", h["formal_members"], kind="int", width=9),
        Column("probationary_members", h["probationary_members"], kind="int", width=9),
        Column("party_org_change", h["party_org_change"], width=12),
        Column("party_org_type", h["party_org_type"], width=10),
        Column("change_date", h["change_date"], kind="date", width=12),
        Column("secretary", h["secretary"], width=10),
        Column("visits", h["visits"], kind="int", width=9),
        Column("activities", h["activities"], kind="int", width=11),
        Column("remarks", h["remarks"], width=30),
    ]


# -- registry ------------------------------------------------------------------------------
REGISTRY_HEADERS = {
    "uscc": "统一社会信用代码", "name": "名称", "kind": "类别", "industry": "行业",
    "community": "社区代码", "employees": "从业人员", "formal_members": "正式党员",
    "probationary_members": "预备党员", "status": "状态", "closed_on": "注销迁出日期",
    "valid_from": "登记日期", "demo_site": "示范点", "party_org": "党组织名称",
    "party_org_type": "党组织类型", "formation": "组建方式", "established": "党组织成立日期",
    "secretary": "党组织书记", "party_org_members": "党组织党员数", "instructors": "党建指导员",
}


def registry_specs(lang: str = "zh") -> list[ColumnSpec]:
    nonneg = _nonneg(lang)
    h = REGISTRY_HEADERS
    return [
        ColumnSpec("uscc", h["uscc"], required=True, kind="code", aliases=("uscc",)),
        ColumnSpec("name", h["name"], required=True, aliases=("组织名称", "单位名称")),
        ColumnSpec("kind", h["kind"], required=True, choices=_choices(codes.KIND_LABELS)),
        ColumnSpec("industry", h["industry"], optional=True),
        ColumnSpec("community", h["community"], required=True, kind="code"),
        ColumnSpec("employees", h["employees"], kind="int", optional=True, check=nonneg),
        ColumnSpec("formal_members", h["formal_members"], kind="int", optional=True, check=nonneg),
        ColumnSpec("probationary_members", h["probationary_members"], kind="int", optional=True,
                   check=nonneg),
        ColumnSpec("status", h["status"], optional=True, choices=_choices(codes.STATUS_LABELS)),
        ColumnSpec("closed_on", h["closed_on"], kind="date", optional=True),
        ColumnSpec("valid_from", h["valid_from"], kind="date", optional=True),
        ColumnSpec("demo_site", h["demo_site"], kind="bool", optional=True),
        ColumnSpec("party_org", h["party_org"], optional=True),
        ColumnSpec("party_org_type", h["party_org_type"], optional=True,
                   choices=_choices(codes.PARTY_ORG_TYPE_LABELS)),
        ColumnSpec("formation", h["formation"], optional=True,
                   choices=_choices(codes.FORMATION_LABELS)),
        ColumnSpec("established", h["established"], kind="date", optional=True),
        ColumnSpec("secretary", h["secretary"], optional=True),
        ColumnSpec("party_org_members", h["party_org_members"], kind="int", optional=True,
                   check=nonneg),
        ColumnSpec("instructors", h["instructors"], optional=True),
    ]


def registry_columns() -> list[Column]:
    h = REGISTRY_HEADERS
    kinds = {"employees": "int", "formal_members": "int", "probationary_members": "int",
             "closed_on": "date", "valid_from": "date", "established": "date",
             "party_org_members": "int"}
    return [Column(key, header, kind=kinds.get(key, "text")) for key, header in h.items()]


# -- writing templates ---------------------------------------------------------------------
def _dropdown(ws: Any, column: int, labels: Iterable[str], rows: int, title: str) -> None:
    from openpyxl.utils import get_column_letter

    letter = get_column_letter(column)
    dv = DataValidation(type="list", formula1='"' + ",".join(labels) + '"', allow_blank=True,
                        showErrorMessage=True, errorTitle=title,
                        error="请从下拉列表中选择 / pick a value from the list")
    dv.add(f"{letter}{FIRST_DATA_ROW}:{letter}{FIRST_DATA_ROW + rows}")
    ws.add_data_validation(dv)


def _meta(wb: WorkbookBuilder, template: str, period: str = "") -> None:
    ws = wb.wb.create_sheet(META_SHEET)
    ws.append(["template", template])
    ws.append(["period", period])
    ws.sheet_state = "hidden"


def report_template(period: str, rows: list[dict[str, Any]], title: str) -> bytes:
    """The report workbook of one instructor (or admin) for one period, pre-filled."""
    wb = WorkbookBuilder()
    cols = report_columns()
    ws = wb.add_table(sheet=REPORT_SHEET, title=title, subtitle=period_subtitle(period),
                      columns=cols, rows=rows)
    index = {c.key: i for i, c in enumerate(cols, start=1)}
    n = len(rows) + SPARE_ROWS
    _dropdown(ws, index["party_org_change"], codes.CHANGE_LABELS.values(), n, "党组织变动")
    _dropdown(ws, index["party_org_type"], codes.PARTY_ORG_TYPE_LABELS.values(), n, "党组织类型")
    _meta(wb, REPORT_TEMPLATE, period)
    return wb.to_bytes()


def registry_template(rows: list[dict[str, Any]], title: str) -> bytes:
    wb = WorkbookBuilder(write_only=False)
    cols = registry_columns()
    ws = wb.add_table(sheet=REGISTRY_SHEET, title=title, subtitle=period_subtitle(), columns=cols,
                      rows=rows)
    index = {c.key: i for i, c in enumerate(cols, start=1)}
    n = len(rows) + SPARE_ROWS
    _dropdown(ws, index["kind"], codes.KIND_LABELS.values(), n, "类别")
    _dropdown(ws, index["status"], codes.STATUS_LABELS.values(), n, "状态")
    _dropdown(ws, index["demo_site"], ("是", "否"), n, "示范点")
    _dropdown(ws, index["party_org_type"], codes.PARTY_ORG_TYPE_LABELS.values(), n, "党组织类型")
    _dropdown(ws, index["formation"], codes.FORMATION_LABELS.values(), n, "组建方式")
    _meta(wb, REGISTRY_TEMPLATE)
    return wb.to_bytes()


# -- reading -------------------------------------------------------------------------------
def formats_of(template: str) -> tuple[str, ...]:
    """The upload formats each workbook is taken in."""
    return WITH_CSV if template == REGISTRY_TEMPLATE else WORKBOOKS


def template_meta(data: bytes, filename: str = "upload.xlsx", lang: str = "zh",
                  settings: Any = None, accept: tuple[str, ...] = WORKBOOKS) -> dict[str, str]:
    """The hidden sheet's entries; {} for a workbook not made from a kaohe template (and
    for a CSV file). The sheet is read through the kit, so a hostile stamp sheet is refused
    like any other."""
    grid = read_grid(data, filename, META_SHEET, lang=lang, settings=settings,
                     accept=accept) or []
    return {str(r[0]): str(r[1]) for r in grid if len(r) >= 2 and r[0]}


def read_upload(data: bytes, filename: str, template: str, period: str | None, lang: str,
                settings: Any = None, max_rows: int | None = None) -> Table:
    """Check the file and its template stamp, then read the typed rows. The registry is
    also taken as CSV (what other registers export); reports come from the template."""
    specs = report_specs(lang) if template == REPORT_TEMPLATE else registry_specs(lang)
    accept = formats_of(template)
    table = read_table(data, filename, specs, lang=lang, settings=settings, max_rows=max_rows,
                       allow_unknown=True, accept=accept)
    meta = template_meta(data, filename, lang, settings, accept)
    made_for = meta.get("template")
    if made_for and made_for != template:
        raise UploadRejected("wrong_template", i18n.t(
            "coverage.err.wrong_template", lang, template=made_for, expected=template))
    if period is not None and meta.get("period") and meta["period"] != period:
        exc = UploadRejected("template_period_mismatch", i18n.t(
            "coverage.err.template_period", lang, found=meta["period"], period=period))
        exc.field = "period"
        raise exc
    return table
