"""The Excel writer kit: every workbook the platform produces goes through WorkbookBuilder.

A table sheet has a title row, a subtitle row (period and generation time), one header row
(frozen, with an autofilter, repeated on every printed page), then the data rows and an
optional total row. Columns carry a kind that fixes the number format. User text is written
so it can never become a formula. `write_only=True` streams rows for large sheets.

    cols = [Column("name", "单位"), Column("rate", "组织覆盖率", kind="percent")]
    wb = WorkbookBuilder()
    ws = wb.add_table(sheet="覆盖情况", title="覆盖情况统计表", subtitle=period_subtitle("2014"),
                      columns=cols, rows=rows, row_fill=lambda r: RED if r["rate"] < .8 else None)
    data = wb.to_bytes()
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from copy import copy
from dataclasses import dataclass, field
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.chart import BarChart, Reference
from openpyxl.formatting.rule import CellIsRule, ColorScaleRule, FormulaRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from core import clock

FORMATS = {
    "text": "@",
    "int": "0",
    "float": "0.00",
    "percent": "0.00%",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm",
}
# Conventional Excel "bad / neutral / good" fills, for row_fill and conditional rules.
RED, YELLOW, GREEN, GREY = "FFC7CE", "FFEB9C", "C6EFCE", "F2F2F2"
# A cell starting with one of these is read as a formula (or DDE payload) by spreadsheet apps.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MIN_WIDTH, MAX_WIDTH = 6.0, 60.0
# write_only cannot widen columns after rows are written: size them from the first rows.
WIDTH_SAMPLE_ROWS = 500
HEADER_ROW = 3
FIRST_DATA_ROW = 4

_THIN = Side(style="thin", color="BFBFBF")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


@dataclass(frozen=True)
class Column:
    """One column of a table. `key` picks the value from each row dict (or `get(row)`)."""

    key: str
    header: str
    kind: str = "text"  # text, int, float, percent (a fraction), date, datetime
    width: float | None = None  # fixed width; otherwise fitted to the content
    number_format: str | None = None  # overrides the kind's format
    get: Callable[[Mapping[str, Any]], Any] | None = None
    wrap: bool = False

    def __post_init__(self) -> None:
        if self.kind not in FORMATS:
            raise ValueError(f"column '{self.key}': unknown kind '{self.kind}' "
                             f"(known: {', '.join(FORMATS)})")

    @property
    def fmt(self) -> str:
        return self.number_format or FORMATS[self.kind]

    def value(self, row: Mapping[str, Any]) -> Any:
        return self.get(row) if self.get else row.get(self.key)


@dataclass
class TableInfo:
    """Where a table landed on its sheet, for charts and conditional formatting."""

    columns: list[Column]
    first_row: int
    last_row: int  # last data row (== first_row - 1 when empty)
    total_row: int | None = None
    index: dict[str, int] = field(default_factory=dict)

    def letter(self, key: str) -> str:
        if key not in self.index:
            raise KeyError(f"no column '{key}' (columns: {', '.join(self.index)})")
        return get_column_letter(self.index[key])

    def data_range(self, key: str) -> str:
        col = self.letter(key)
        return f"{col}{self.first_row}:{col}{max(self.first_row, self.last_row)}"


def now_text() -> str:
    return clock.local_now().strftime("%Y-%m-%d %H:%M")


def period_subtitle(period: str | None = None, unit: str | None = None, lang: str = "zh") -> str:
    """The usual subtitle: "考核期 2014 · 单位 南明区 · 生成时间 2024-05-01 09:30"."""
    from core.i18n import t

    parts = []
    if period:
        parts.append(f"{t('xlsx.period', lang)} {period}")
    if unit:
        parts.append(f"{t('xlsx.unit', lang)} {unit}")
    parts.append(f"{t('xlsx.generated', lang)} {now_text()}")
    return " · ".join(parts)


def display_width(text: str) -> int:
    """Width in Excel character units: CJK and other full-width characters count double.

    UTF-8 gives CJK three bytes and ASCII one, so (characters + bytes) / 2 counts 2 and 1;
    it runs in C, which matters when every cell of a large sheet is measured."""
    return (len(text) + len(text.encode("utf-8"))) // 2


def is_formula_like(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def safe_sheet_name(name: str) -> str:
    """Excel sheet names: at most 31 characters, none of []:*?/\\ ."""
    cleaned = _BAD_SHEET_CHARS.sub("_", name).strip("'") or "Sheet"
    return cleaned[:31]


def _naive_local(value: dt.datetime) -> dt.datetime:
    # Excel has no time zones: show the time as people here read it.
    if value.tzinfo is not None:
        value = value.astimezone(clock.tz()).replace(tzinfo=None)
    return value


def coerce(value: Any, kind: str) -> Any:
    """The value as it should be stored for a column kind."""
    if value is None or value == "":
        return None
    if kind == "text":
        return value if isinstance(value, str) else str(value)
    if kind in ("int", "float", "percent"):
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, decimal.Decimal):
            return int(value) if kind == "int" and value == value.to_integral_value() else float(value)
        if isinstance(value, int | float):
            return value
        return str(value)  # something that is not a number is shown as given, never guessed
    if kind == "date":
        if isinstance(value, dt.datetime):
            return _naive_local(value).date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            return str(value)
    if kind == "datetime":
        if isinstance(value, dt.datetime):
            return _naive_local(value)
        if isinstance(value, dt.date):
            return dt.datetime(value.year, value.month, value.day)
        try:
            return _naive_local(dt.datetime.fromisoformat(str(value)))
        except ValueError:
            return str(value)
    return value


def shown_text(value: Any, kind: str) -> str:
    """Roughly what Excel will display, to size the column."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if kind == "percent" and isinstance(value, int | float):
        return f"{value * 100:.2f}%"
    if kind == "float" and isinstance(value, int | float):
        return f"{value:,.2f}"
    if kind == "datetime":
        return "2000-01-01 00:00"
    if kind == "date":
        return "2000-01-01"
    return str(value)


class WorkbookBuilder:
    """Builds one workbook of table sheets (and notes sheets), then `to_bytes()`."""

    def __init__(self, write_only: bool = False, creator: str = "kaohe"):
        self.write_only = write_only
        self.wb = Workbook(write_only=write_only)
        self.wb.properties.creator = creator
        self._fresh = not write_only  # the default empty sheet is still there
        self.tables: dict[str, TableInfo] = {}
        self._proto: dict[tuple, Any] = {}
        self._data: bytes | None = None

    # -- sheets ----------------------------------------------------------------------------
    def _new_sheet(self, name: str) -> Worksheet:
        name = safe_sheet_name(name)
        taken = set(self.wb.sheetnames)
        base, n = name, 2
        while name in taken:
            suffix = f"({n})"
            name, n = base[: 31 - len(suffix)] + suffix, n + 1
        if self._fresh:
            ws = self.wb.active
            ws.title = name
            self._fresh = False
            return ws
        return self.wb.create_sheet(name)

    def add_table(self, sheet: str, title: str, columns: Sequence[Column],
                  rows: Iterable[Mapping[str, Any]], subtitle: str | None = None,
                  total_row: Mapping[str, Any] | None = None,
                  row_fill: Callable[[Mapping[str, Any]], str | None] | None = None,
                  freeze: bool = True, autofilter: bool = True, landscape: bool = True) -> Worksheet:
        """Write a titled table. `row_fill(row)` returns an RGB hex fill for a data row or None."""
        if not columns:
            raise ValueError(f"sheet '{sheet}': a table needs at least one column")
        columns = list(columns)
        ws = self._new_sheet(sheet)
        ncols = len(columns)
        last_letter = get_column_letter(ncols)
        rows_iter = iter(rows)
        # Fit widths: all rows in normal mode (rows are buffered anyway), a sample in write_only.
        if self.write_only:
            sample = list(itertools.islice(rows_iter, WIDTH_SAMPLE_ROWS))
            rows_iter = itertools.chain(sample, rows_iter)
        else:
            sample = list(rows_iter)
            rows_iter = iter(sample)
        extra = [total_row] if total_row else []
        for i, col in enumerate(columns, start=1):
            ws.column_dimensions[get_column_letter(i)].width = (
                col.width or self._fit_width(col, itertools.chain(sample, extra)))

        self._page_setup(ws, landscape)
        if freeze:
            ws.freeze_panes = f"A{FIRST_DATA_ROW}"
        ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
        info = TableInfo(columns, FIRST_DATA_ROW, HEADER_ROW, index={
            c.key: i for i, c in enumerate(columns, start=1)})
        self.tables[ws.title] = info
        self._emit(ws, 1, [self._cell(ws, title, "title")])
        self._emit(ws, 2, [self._cell(ws, subtitle if subtitle is not None
                                      else period_subtitle(), "subtitle")])
        self._emit(ws, HEADER_ROW, [self._cell(ws, c.header, "header") for c in columns])
        if ncols > 1:
            for r in (1, 2):
                if self.write_only:
                    ws.merged_cells.add(f"A{r}:{last_letter}{r}")
                else:
                    ws.merge_cells(f"A{r}:{last_letter}{r}")
        r = FIRST_DATA_ROW
        styles_by_fill: dict[str | None, list] = {}
        for row in rows_iter:
            fill = row_fill(row) if row_fill else None
            styles = styles_by_fill.get(fill)
            if styles is None:
                styles = styles_by_fill[fill] = [self._prototype(ws, "data", c, fill)._style
                                                 for c in columns]
            self._emit(ws, r, [self._make(ws, coerce(c.value(row), c.kind), style)
                               for c, style in zip(columns, styles, strict=True)])
            r += 1
        info.last_row = r - 1
        if total_row:
            self._emit(ws, r, [self._cell(ws, c.value(total_row), "total", c) for c in columns])
            info.total_row = r
        if autofilter:
            ws.auto_filter.ref = f"A{HEADER_ROW}:{last_letter}{max(HEADER_ROW, info.last_row)}"
        return ws

    def add_notes(self, sheet: str, title: str,
                  lines: Iterable[str | tuple[str, Any]]) -> Worksheet:
        """A notes sheet: a title then free lines or (label, value) pairs (data sources, rules)."""
        ws = self._new_sheet(sheet)
        self._page_setup(ws, landscape=False)
        ws.column_dimensions["A"].width = 24
        ws.column_dimensions["B"].width = 80
        self._emit(ws, 1, [self._cell(ws, title, "title")])
        r = 2
        for line in lines:
            if isinstance(line, tuple):
                label, value = line
                cells = [self._cell(ws, label, "label"), self._cell(ws, value, "note")]
            else:
                cells = [self._cell(ws, line, "note")]
            self._emit(ws, r, cells)
            r += 1
        return ws

    # -- charts and conditional formatting ------------------------------------------------
    def table(self, ws: Worksheet | str) -> TableInfo:
        name = ws if isinstance(ws, str) else ws.title
        if name not in self.tables:
            raise KeyError(f"sheet '{name}' holds no table written by this builder")
        return self.tables[name]

    def add_bar_chart(self, ws: Worksheet, category: str, values: Sequence[str], title: str = "",
                      anchor: str | None = None, horizontal: bool = False,
                      y_title: str = "", width: float = 24, height: float = 12) -> BarChart:
        """A bar chart of some columns of the sheet's table, one bar per data row."""
        info = self.table(ws)
        chart = BarChart()
        chart.type = "bar" if horizontal else "col"
        chart.title = title or None
        chart.y_axis.title = y_title or None
        chart.width, chart.height = width, height
        last = max(info.first_row, info.last_row)
        for key in values:
            col = info.index[key] if key in info.index else info.letter(key)
            ref = Reference(ws, min_col=col, min_row=HEADER_ROW, max_row=last)
            chart.add_data(ref, titles_from_data=True)
        cat = info.index[category] if category in info.index else info.letter(category)
        chart.set_categories(Reference(ws, min_col=cat, min_row=info.first_row, max_row=last))
        if any(c.kind == "percent" for c in info.columns if c.key in values):
            chart.y_axis.numFmt = "0%"
        chart.y_axis.delete = False
        chart.x_axis.delete = False
        ws.add_chart(chart, anchor or f"{get_column_letter(len(info.columns) + 2)}{HEADER_ROW}")
        return chart

    def highlight(self, ws: Worksheet, key: str, operator: str, values: Sequence[Any],
                  fill: str = RED, font_color: str | None = None) -> None:
        """Excel conditional formatting on one column: operator as in CellIsRule
        (lessThan, greaterThan, between, equal, …), values are numbers or formulas."""
        rule = CellIsRule(operator=operator, formula=[str(v) for v in values],
                          fill=PatternFill("solid", start_color=fill, end_color=fill),
                          font=Font(color=font_color) if font_color else None)
        ws.conditional_formatting.add(self.table(ws).data_range(key), rule)

    def highlight_rows(self, ws: Worksheet, formula: str, fill: str = RED) -> None:
        """Fill whole data rows where `formula` holds; write it for the first data row with
        column letters anchored, e.g. "$E4>0"."""
        info = self.table(ws)
        last = get_column_letter(len(info.columns))
        rng = f"A{info.first_row}:{last}{max(info.first_row, info.last_row)}"
        ws.conditional_formatting.add(rng, FormulaRule(
            formula=[formula], fill=PatternFill("solid", start_color=fill, end_color=fill)))

    def color_scale(self, ws: Worksheet, key: str, low: str = "F8696B", mid: str = "FFEB84",
                    high: str = "63BE7B") -> None:
        """Red–yellow–green colour scale over one column (reverse low/high for lower-better)."""
        ws.conditional_formatting.add(self.table(ws).data_range(key), ColorScaleRule(
            start_type="min", start_color=low, mid_type="percentile", mid_value=50,
            mid_color=mid, end_type="max", end_color=high))

    # -- output ----------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        if self._data is None:  # a write_only workbook can be saved once only
            if self._fresh:
                self.wb.active.title = "Sheet1"
            buf = io.BytesIO()
            self.wb.save(buf)
            self._data = buf.getvalue()
        return self._data

    # -- internals -------------------------------------------------------------------------
    @staticmethod
    def _fit_width(col: Column, rows: Iterable[Mapping[str, Any]]) -> float:
        widest = max((display_width(line) for line in col.header.splitlines()), default=0)
        for row in rows:
            text = shown_text(coerce(col.value(row), col.kind), col.kind)
            if text:
                widest = max(widest, max(display_width(line) for line in text.splitlines()))
        # Header cells are bold, data gets a little air.
        return max(MIN_WIDTH, min(MAX_WIDTH, widest + 2.5))

    @staticmethod
    def _page_setup(ws: Worksheet, landscape: bool) -> None:
        ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
        ws.page_setup.orientation = "landscape" if landscape else "portrait"
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0  # as many pages tall as needed
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.print_options.horizontalCentered = True
        ws.page_margins.left = ws.page_margins.right = 0.4
        ws.page_margins.top = ws.page_margins.bottom = 0.6

    def _emit(self, ws: Worksheet, row: int, cells: list[Cell]) -> None:
        if self.write_only:
            if "_values_to_row" not in ws.__dict__:
                # openpyxl's converter first tries each Cell as a value, catches the ValueError
                # and builds a spare cell: a third of the write time for styled rows.
                ws._values_to_row = _cells_to_row
            ws.append(cells)
        else:
            # Place the prepared cells directly: going through ws.cell() would build each twice.
            for i, cell in enumerate(cells, start=1):
                cell.row, cell.column = row, i
                ws._cells[(row, i)] = cell

    def _prototype(self, ws: Worksheet, role: str, col: Column | None, fill: str | None) -> Cell:
        # Styling every cell through openpyxl's descriptors is slow; style one prototype per
        # (role, format, fill) and copy its style array into each cell.
        key = (role, col.fmt if col else None, col.kind if col else None,
               bool(col and col.wrap), fill)
        proto = self._proto.get(key)
        if proto is not None:
            return proto
        proto = Cell(ws)
        if role == "title":
            proto.font = Font(bold=True, size=16)
            proto.alignment = Alignment(horizontal="center", vertical="center")
        elif role == "subtitle":
            proto.font = Font(size=10, color="595959")
            proto.alignment = Alignment(horizontal="center")
        elif role == "header":
            proto.font = Font(bold=True)
            proto.fill = PatternFill("solid", start_color="D9E1F2", end_color="D9E1F2")
            proto.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
            proto.border = _BORDER
        elif role == "label":
            proto.font = Font(bold=True)
            proto.alignment = Alignment(vertical="top")
        elif role == "note":
            proto.alignment = Alignment(vertical="top", wrap_text=True)
        else:  # data, total
            proto.number_format = col.fmt
            proto.border = _BORDER
            align = "left" if col.kind == "text" else "right"
            if col.kind in ("date", "datetime"):
                align = "center"
            proto.alignment = Alignment(horizontal=align, vertical="center", wrap_text=col.wrap)
            if role == "total":
                proto.font = Font(bold=True)
                proto.fill = PatternFill("solid", start_color=GREY, end_color=GREY)
            elif fill:
                proto.fill = PatternFill("solid", start_color=fill, end_color=fill)
        self._proto[key] = proto
        return proto

    def _cell(self, ws: Worksheet, value: Any, role: str, col: Column | None = None,
              fill: str | None = None) -> Cell:
        proto = self._prototype(ws, role, col, fill)
        if col is not None:
            value = coerce(value, col.kind)
        elif isinstance(value, dt.datetime):
            value = _naive_local(value)
        return self._make(ws, value, proto._style)

    def _make(self, ws: Worksheet, value: Any, style: Any) -> Cell:
        # A write_only cell is serialized and dropped, so it may share its prototype's style
        # array; a normal cell gets its own, since setting a font later mutates it in place.
        cell = Cell(ws, style_array=style if self.write_only else copy(style))
        set_safe(cell, value)
        return cell


def _cells_to_row(cells: list[Cell], row_idx: int):
    for col_idx, cell in enumerate(cells, 1):
        cell.column, cell.row = col_idx, row_idx
        yield cell


def set_safe(cell: Cell, value: Any) -> None:
    """Set a cell's value; text that looks like a formula is stored as plain text."""
    if isinstance(value, decimal.Decimal):
        value = float(value)
    cell.value = value
    if is_formula_like(value):
        # 's' stops openpyxl writing a formula; quotePrefix keeps Excel from re-reading it
        # as one when someone edits the cell.
        cell.data_type = "s"
        cell.quotePrefix = True
