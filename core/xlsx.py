"""The Excel writer kit: every workbook the platform produces goes through WorkbookBuilder.

A table sheet has a title row, a subtitle row (period and generation time), one header row
(frozen, with an autofilter, repeated on every printed page), then the data rows and an
optional total row. Columns carry a kind that fixes the number format. User text is written
so it can never become a formula. `write_only=True` streams rows for large sheets.

Print: A4, every cell in one CJK font (FONT), a centred "第 &P 页 共 &N 页" footer, a fixed
print scale of at least MIN_SCALE per cent. A table too wide for one page at that scale is
printed in column groups (pages broken between `Column.group`s where it can), each page
repeating the first `keys` columns; charts go below their table at full size.

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
from openpyxl.utils.indexed_list import IndexedList
from openpyxl.worksheet.pagebreak import Break
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

# 宋体 (SimSun) is on every Chinese Windows/Excel and WPS install, and it is the font offices'
# own sheets use. LibreOffice on Linux has no font of that name and draws the Chinese from the
# installed CJK font (Noto CJK or WenQuanYi) by glyph fallback, so text prints either way;
# a Linux-only name (Noto Sans CJK SC) would fall back to a font without Chinese on Windows.
# charset 134 (GB2312) tells Excel the name is a Chinese font.
FONT = "宋体"
FONT_CHARSET = 134
FONT_SIZE = 11
LINE_POINTS = 16.0  # one line of 11 pt CJK text, with the line gap CJK fonts carry
MIN_SCALE = 70  # per cent: 11 pt prints at 7.7 pt at least
# Printable width of A4 in millimetres, less the left and right margins (0.4 in each).
PAGE_MM = {"landscape": 297 - 2 * 10.16, "portrait": 210 - 2 * 10.16}
ROW_BREAK = 1048575  # a column break runs over every row
# Printable height, less the top (0.6 in) and bottom (0.7 in) margins.
PAGE_HEIGHT_MM = {"landscape": 210 - 33.02, "portrait": 297 - 33.02}
DEFAULT_ROW_POINTS = 15.0

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
    group: str = ""  # columns sharing a group are printed on one page when they fit

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


def font(**kw: Any) -> Font:
    """The kit's font (FONT) with the given bold/size/colour."""
    kw.setdefault("size", FONT_SIZE)
    return Font(name=FONT, charset=FONT_CHARSET, **kw)


def column_mm(width: float) -> float:
    """Printed width of a column at 100 %: width w is drawn as w digits plus 5 pixels at
    96 pixels an inch. The digit is 7 px in Excel's 宋体 but about 9 px in LibreOffice, whose
    fallback for the Latin part is wider (measured on a printed sheet); the wider one is
    assumed, so a plan made here fits both."""
    return (width * 9 + 5) * 25.4 / 96


def text_lines(text: str, width: float) -> int:
    """Lines a wrapped text needs in a column of this width (CJK counts double)."""
    per_line = max(1.0, width * 0.92 - 1)
    return sum(max(1, -(-display_width(part) // int(per_line)))
               for part in str(text).split("\n"))


@dataclass(frozen=True)
class PrintPlan:
    scale: int
    breaks: tuple[int, ...] = ()  # a page break after each of these columns (1-based)
    first_page_cols: int = 0  # columns on the first printed page


def plan_print(widths: Sequence[float], keys: int = 1, groups: Sequence[str] = (),
               orientation: str = "landscape", min_scale: int = MIN_SCALE) -> PrintPlan:
    """The largest scale (at least min_scale) that prints the columns on as few pages wide as
    possible; pages break between groups where a whole group fits, and repeat `keys`."""
    page = PAGE_MM[orientation]
    mm = [column_mm(w) for w in widths]
    total = sum(mm)
    if total <= page:
        return PrintPlan(100, (), len(widths))
    if total * min_scale / 100 <= page:
        return PrintPlan(int(page / total * 100), (), len(widths))
    keys = min(keys, len(widths) - 1)
    groups = list(groups) or [str(i) for i in range(len(widths))]

    def split(scale: int) -> list[int] | None:
        room = page * 100 / scale - sum(mm[:keys])
        if room <= 0:
            return None
        units: list[list[int]] = []  # runs of columns of one group
        for i in range(keys, len(widths)):
            if units and groups[i] == groups[units[-1][-1]]:
                units[-1].append(i)
            else:
                units.append([i])
        breaks, used = [], 0.0
        for unit in units:
            need = sum(mm[i] for i in unit)
            if used and used + need > room:  # the group starts a new page
                breaks.append(unit[0])
                used = 0.0
            for i in unit:
                if mm[i] > room:
                    return None
                if used + mm[i] > room:  # a group wider than a page: break inside it
                    breaks.append(i)
                    used = 0.0
                used += mm[i]
        return breaks

    fewest = split(min_scale)
    if fewest is None:
        return PrintPlan(min_scale, (), len(widths))
    best = min_scale
    for scale in range(100, min_scale, -5):
        found = split(scale)
        if found is not None and len(found) == len(fewest):
            best, fewest = scale, found
            break
    # Break ids are 1-based columns after which a page ends (column index i starts a page).
    return PrintPlan(best, tuple(fewest), fewest[0] if fewest else len(widths))


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

    def __init__(self, write_only: bool = False, creator: str = "kaohe", lang: str = "zh"):
        self.write_only = write_only
        self.lang = lang
        self.wb = Workbook(write_only=write_only)
        self.wb.properties.creator = creator
        # The workbook's default font (empty cells, new rows typed in later) is the kit's too.
        base = font()
        self.wb._fonts = IndexedList([base])
        self.wb._named_styles["Normal"].font = base
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
                  freeze: bool = True, autofilter: bool = True, landscape: bool | None = None,
                  keys: int = 1, empty_text: str | None = None) -> Worksheet:
        """Write a titled table. `row_fill(row)` returns an RGB hex fill for a data row or None.
        `keys` leading columns are repeated on every page of a table printed in column groups.
        `landscape=None` prints portrait when the table fits a portrait page at 100 %.
        `empty_text` (exports: "本期无记录", `no_records(lang)`) is written in a row of its own
        when there are no data rows; templates people fill in leave it None."""
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
        widths = [col.width or self._fit_width(col, itertools.chain(sample, extra))
                  for col in columns]
        for i, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(i)].width = width

        if landscape is None:  # portrait when the table fits it at full size: more rows a page
            landscape = sum(column_mm(w) for w in widths) > PAGE_MM["portrait"]
        orientation = "landscape" if landscape else "portrait"
        plan = plan_print(widths, keys, [c.group or c.key for c in columns], orientation)
        self._page_setup(ws, landscape, plan.scale)
        if freeze:
            ws.freeze_panes = f"A{FIRST_DATA_ROW}"
        ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
        if plan.breaks:
            for col_index in plan.breaks:  # Break(id=n): the page ends after column n
                ws.col_breaks.append(Break(id=col_index, max=ROW_BREAK))
            if keys:
                ws.print_title_cols = f"A:{get_column_letter(keys)}"
        # The title is centred over the first printed page, not over pages of columns.
        title_letter = get_column_letter(max(1, plan.first_page_cols))
        info = TableInfo(columns, FIRST_DATA_ROW, HEADER_ROW, index={
            c.key: i for i, c in enumerate(columns, start=1)})
        self.tables[ws.title] = info
        self._emit(ws, 1, [self._cell(ws, title, "title")])
        self._emit(ws, 2, [self._cell(ws, subtitle if subtitle is not None
                                      else period_subtitle(), "subtitle")])
        header_lines = max(text_lines(c.header, w) for c, w in zip(columns, widths, strict=True))
        if header_lines > 1:
            ws.row_dimensions[HEADER_ROW].height = header_lines * LINE_POINTS
        self._emit(ws, HEADER_ROW, [self._cell(ws, c.header, "header") for c in columns])
        if ncols > 1 and title_letter != "A":
            for r in (1, 2):
                self._merge(ws, f"A{r}:{title_letter}{r}")
        wrapped = [(i, c, w) for i, (c, w) in enumerate(zip(columns, widths, strict=True))
                   if c.wrap]
        r = FIRST_DATA_ROW
        styles_by_fill: dict[str | None, list] = {}
        for row in rows_iter:
            fill = row_fill(row) if row_fill else None
            styles = styles_by_fill.get(fill)
            if styles is None:
                styles = styles_by_fill[fill] = [self._prototype(ws, "data", c, fill)._style
                                                 for c in columns]
            values = [coerce(c.value(row), c.kind) for c in columns]
            if wrapped:  # row heights are not fitted by every reader: size the row here
                lines = max(text_lines(shown_text(values[i], c.kind), w) for i, c, w in wrapped)
                if lines > 1:
                    ws.row_dimensions[r].height = lines * LINE_POINTS
            self._emit(ws, r, [self._make(ws, v, style)
                               for v, style in zip(values, styles, strict=True)])
            r += 1
        info.last_row = r - 1
        if r == FIRST_DATA_ROW and empty_text:
            self._emit(ws, r, [self._cell(ws, empty_text, "empty")])
            if ncols > 1:
                self._merge(ws, f"A{r}:{last_letter}{r}")
            r += 1
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
        label_width, text_width = 16, 60  # a portrait A4 page at 100 %
        self._page_setup(ws, landscape=False,
                         scale=plan_print([label_width, text_width], 0, (), "portrait").scale)
        ws.column_dimensions["A"].width = label_width
        ws.column_dimensions["B"].width = text_width
        self._emit(ws, 1, [self._cell(ws, title, "title")])
        self._merge(ws, "A1:B1")
        ws.row_dimensions[1].height = 2 * LINE_POINTS
        r = 2
        for line in lines:
            if isinstance(line, tuple):
                label, value = line
                cells = [self._cell(ws, label, "label"), self._cell(ws, value, "note")]
                lines_needed = max(text_lines(str(label), label_width),
                                   text_lines(str(value), text_width))
            else:
                cells = [self._cell(ws, line, "note")]
                lines_needed = text_lines(str(line), label_width + text_width)
            # Wrapped text in a row of fixed height is cut after one line: size the row.
            ws.row_dimensions[r].height = lines_needed * LINE_POINTS + 4
            self._emit(ws, r, cells)
            if not isinstance(line, tuple):
                self._merge(ws, f"A{r}:B{r}")
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
        """A bar chart of some columns of the sheet's table, one bar per data row, placed
        below the table (two rows down, column A) at full size unless `anchor` says where.
        Its width is held within the printed page, so it never forces a smaller scale."""
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
        if anchor is not None:
            ws.add_chart(chart, anchor)
            return chart
        orientation = ws.page_setup.orientation or "landscape"
        if ws.col_breaks.brk:
            # A table printed in column groups repeats its key columns, and a chart over them
            # would print on every page: it gets a page (sheet) of its own instead.
            target = self._new_sheet(f"{ws.title}·图")
            self._page_setup(target, True)
            self._emit(target, 1, [self._cell(target, title or ws.title, "title")])
            scale, orientation, at = 100, "landscape", 3
        else:
            target, scale = ws, int(ws.page_setup.scale or 100)
            at = (info.total_row or max(info.last_row, info.first_row)) + 2
        page_w = PAGE_MM[orientation] * 100 / scale
        page_h = PAGE_HEIGHT_MM[orientation] * 100 / scale
        chart.width = min(chart.width, page_w / 10 - 1)
        chart.height = min(chart.height, page_h / 10 - 2)
        used = sum((target.row_dimensions[r].height or DEFAULT_ROW_POINTS) * 25.4 / 72
                   for r in range(1, at)) % page_h
        if target is ws and used + chart.height * 10 > page_h:
            ws.row_breaks.append(Break(id=at - 1))  # not cut at the foot of a page
        target.add_chart(chart, f"A{at}")
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
        header = max((display_width(line) for line in col.header.splitlines()), default=0)
        widest = 0
        for row in rows:
            text = shown_text(coerce(col.value(row), col.kind), col.kind)
            if text:
                widest = max(widest, max(display_width(line) for line in text.splitlines()))
        # A header much longer than its figures wraps onto two lines instead of widening the
        # column (and the printed table) for every row.
        if header >= 8 and header > widest * 1.5:
            lines = 3 if header > 3 * max(widest, 5) else 2
            header = max(widest, -(-header // lines) + 1)
        # A little air; bold header text is a little wider than the same text in data.
        return max(MIN_WIDTH, min(MAX_WIDTH, max(header + 2, widest + 1.5)))

    def _page_setup(self, ws: Worksheet, landscape: bool, scale: int = 100) -> None:
        from core.i18n import t

        ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
        ws.page_setup.orientation = "landscape" if landscape else "portrait"
        # A fixed scale, not "fit to one page wide": fitting shrinks wide sheets to 2-3 pt.
        ws.page_setup.scale = max(MIN_SCALE, min(100, scale))
        ws.sheet_properties.pageSetUpPr.fitToPage = False
        ws.print_options.horizontalCentered = True
        ws.page_margins.left = ws.page_margins.right = 0.4
        ws.page_margins.top = 0.6
        ws.page_margins.bottom = 0.7
        ws.page_margins.footer = 0.3
        ws.oddFooter.center.text = t("xlsx.footer", self.lang)
        ws.oddFooter.center.font = f"{FONT},Regular"
        ws.oddFooter.center.size = 9

    def _merge(self, ws: Worksheet, ref: str) -> None:
        if self.write_only:
            ws.merged_cells.add(ref)
        else:
            ws.merge_cells(ref)

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
        proto.font = font()
        if role == "title":
            proto.font = font(bold=True, size=16)
            proto.alignment = Alignment(horizontal="center", vertical="center")
        elif role == "subtitle":
            proto.font = font(size=10, color="595959")
            proto.alignment = Alignment(horizontal="center")
        elif role == "header":
            proto.font = font(bold=True)
            proto.fill = PatternFill("solid", start_color="D9E1F2", end_color="D9E1F2")
            proto.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
            proto.border = _BORDER
        elif role == "label":
            proto.font = font(bold=True)
            proto.alignment = Alignment(vertical="top", wrap_text=True)
        elif role == "note":
            proto.alignment = Alignment(vertical="top", wrap_text=True)
        elif role == "empty":
            proto.font = font(color="595959")
            proto.alignment = Alignment(horizontal="center", vertical="center")
            proto.border = _BORDER
        else:  # data, total
            proto.number_format = col.fmt
            proto.border = _BORDER
            align = "left" if col.kind == "text" else "right"
            if col.kind in ("date", "datetime"):
                align = "center"
            proto.alignment = Alignment(horizontal=align, vertical="center", wrap_text=col.wrap)
            if role == "total":
                proto.font = font(bold=True)
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


def no_records(lang: str = "zh") -> str:
    """The text of an export with no data rows: 本期无记录."""
    from core.i18n import t

    return t("xlsx.no_records", lang)


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
