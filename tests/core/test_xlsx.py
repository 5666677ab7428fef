"""The Excel writer kit: write, then read back cell by cell with python-calamine and openpyxl."""

import datetime as dt
import decimal
import io
import zipfile

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from core.xlsx import (
    FIRST_DATA_ROW,
    FONT,
    HEADER_ROW,
    LINE_POINTS,
    MIN_SCALE,
    RED,
    Column,
    WorkbookBuilder,
    display_width,
    no_records,
    period_subtitle,
    plan_print,
    safe_sheet_name,
)

COLS = [
    Column("name", "单位", kind="text"),
    Column("rate", "组织覆盖率", kind="percent"),
    Column("n", "数量", kind="int"),
    Column("d", "日期", kind="date"),
    Column("amount", "金额", kind="float"),
    Column("at", "提交时间", kind="datetime"),
]
ROWS = [
    {"name": "南明区", "rate": 0.8387, "n": 3, "d": dt.date(2014, 5, 1), "amount": 1.5,
     "at": dt.datetime(2014, 5, 1, 1, 30, tzinfo=dt.UTC)},
    {"name": "云岩区", "rate": decimal.Decimal("0.5"), "n": 12, "d": "2014-06-02",
     "amount": decimal.Decimal("2.25"), "at": None},
    {"name": "520102", "rate": None, "n": None, "d": None, "amount": 0, "at": None},
]
INJECTIONS = ["=1+2", "+SUM(A1:A2)", "-2+3", "@SUM(A1)", "\t=1", "\r=1",
              "=HYPERLINK(\"http://x\",\"y\")", "=cmd|' /C calc'!A0"]


def sheet_values(data: bytes, index: int = 0) -> list[list]:
    return CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(index).to_python()


def build(write_only: bool, rows=ROWS, **kw) -> tuple[WorkbookBuilder, bytes]:
    wb = WorkbookBuilder(write_only=write_only)
    ws = wb.add_table(sheet="覆盖情况", title="覆盖情况统计表", subtitle="考核期 2014 · 生成时间 x",
                      columns=COLS, rows=rows, **kw)
    assert ws is not None
    return wb, wb.to_bytes()


@pytest.mark.parametrize("write_only", [False, True])
def test_round_trip_cell_by_cell(write_only):
    _, data = build(write_only, total_row={"name": "合计", "n": 15, "amount": 3.75})
    values = sheet_values(data)
    assert values[0][0] == "覆盖情况统计表"
    assert values[1][0] == "考核期 2014 · 生成时间 x"
    assert values[HEADER_ROW - 1] == ["单位", "组织覆盖率", "数量", "日期", "金额", "提交时间"]
    first, second, third = values[FIRST_DATA_ROW - 1:FIRST_DATA_ROW + 2]
    assert first[:5] == ["南明区", 0.8387, 3, dt.date(2014, 5, 1), 1.5]
    # An aware datetime is shown in Asia/Shanghai time, without a zone (Excel has none).
    assert first[5] == dt.datetime(2014, 5, 1, 9, 30)
    assert second[:5] == ["云岩区", 0.5, 12, dt.date(2014, 6, 2), 2.25]
    # A code in a text column stays text (leading zeros, no number conversion).
    assert third[0] == "520102" and isinstance(third[0], str)
    assert third[1:4] == ["", "", ""]
    assert values[FIRST_DATA_ROW + 2][:5] == ["合计", "", 15, "", 3.75]
    assert len(values) == FIRST_DATA_ROW + 3


@pytest.mark.parametrize("write_only", [False, True])
def test_formats_layout_and_print_setup(write_only):
    _, data = build(write_only, row_fill=lambda r: RED if (r["rate"] or 0) < 0.6 else None)
    ws = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    assert ws.title == "覆盖情况"
    fmts = [ws.cell(FIRST_DATA_ROW, i).number_format for i in range(1, 7)]
    assert fmts == ["@", "0.00%", "0", "yyyy-mm-dd", "0.00", "yyyy-mm-dd hh:mm"]
    assert ws.freeze_panes == f"A{FIRST_DATA_ROW}"
    assert ws.auto_filter.ref == f"A{HEADER_ROW}:F{FIRST_DATA_ROW + 2}"
    assert ws.print_title_rows == f"${HEADER_ROW}:${HEADER_ROW}"
    # Six narrow columns fit a portrait page at full size; a wide table turns landscape.
    assert ws.page_setup.orientation == "portrait"
    assert int(ws.page_setup.paperSize) == 9  # A4
    # A fixed scale (a narrow table prints at 100 %), never "fit to one page wide".
    assert not ws.sheet_properties.pageSetUpPr.fitToPage
    assert int(ws.page_setup.scale) == 100
    assert ws.oddFooter.center.text == "第 &P 页 共 &N 页"
    assert {str(r) for r in ws.merged_cells.ranges} == {"A1:F1", "A2:F2"}
    assert ws.cell(HEADER_ROW, 1).font.b is True
    # One named CJK font for every role: title, subtitle, header, data, total.
    for row in (1, 2, HEADER_ROW, FIRST_DATA_ROW, FIRST_DATA_ROW + 3):
        assert ws.cell(row, 1).font.name == FONT, row
    # Row fill: the 0.5 row and the empty-rate row are red, the 0.8387 row is not.
    fills = [ws.cell(r, 2).fill.fgColor.rgb for r in range(FIRST_DATA_ROW, FIRST_DATA_ROW + 3)]
    assert fills[1].endswith(RED) and fills[2].endswith(RED)
    assert not fills[0].endswith(RED)


@pytest.mark.parametrize("write_only", [False, True])
def test_widths_fit_chinese_text(write_only):
    cols = [Column("a", "单位"), Column("b", "Unit"), Column("c", "数量", kind="int", width=30)]
    rows = [{"a": "贵阳市南明区花果园社区党委", "b": "Nanming", "c": 1}]
    wb = WorkbookBuilder(write_only=write_only)
    wb.add_table(sheet="s", title="t", columns=cols, rows=rows)
    ws = openpyxl.load_workbook(io.BytesIO(wb.to_bytes())).worksheets[0]
    wide, narrow = ws.column_dimensions["A"].width, ws.column_dimensions["B"].width
    # 13 Chinese characters count as 26 columns: the column must be at least that wide.
    assert wide >= 26 and narrow < 12
    assert ws.column_dimensions["C"].width == 30
    assert display_width("南明a") == 5


@pytest.mark.parametrize("write_only", [False, True])
def test_user_text_is_never_a_formula(write_only):
    cols = [Column("v", "内容"), Column("n", "数量", kind="int")]
    rows = [{"v": text, "n": text} for text in INJECTIONS]
    wb = WorkbookBuilder(write_only=write_only)
    wb.add_table(sheet="s", title="=1+1", subtitle="@x", columns=cols, rows=rows,
                 total_row={"v": "=SUM(B4:B9)"})
    data = wb.to_bytes()
    values = sheet_values(data)
    assert values[0][0] == "=1+1" and values[1][0] == "@x"
    got = [row[:2] for row in values[FIRST_DATA_ROW - 1:FIRST_DATA_ROW - 1 + len(INJECTIONS)]]
    # Readers differ on a bare CR (some turn it into LF); what matters is that it stays text.
    lf = lambda text: text.replace("\r", "\n")  # noqa: E731
    assert [[lf(a), lf(b)] for a, b in got] == [[lf(t), lf(t)] for t in INJECTIONS]
    ws = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    for row in ws.iter_rows():
        for cell in row:
            assert cell.data_type != "f", f"{cell.coordinate} became a formula"
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert b"<f>" not in z.read("xl/worksheets/sheet1.xml")
    assert ws.cell(FIRST_DATA_ROW, 1).quotePrefix


def test_negative_numbers_stay_numbers():
    wb = WorkbookBuilder()
    wb.add_table(sheet="s", title="t", columns=[Column("n", "n", kind="float")],
                 rows=[{"n": -2.5}])
    assert sheet_values(wb.to_bytes())[FIRST_DATA_ROW - 1] == [-2.5]


@pytest.mark.parametrize("write_only", [False, True])
def test_chart_conditional_formatting_and_notes(write_only):
    wb = WorkbookBuilder(write_only=write_only)
    ws = wb.add_table(sheet="覆盖情况", title="t", columns=COLS, rows=ROWS)
    wb.add_bar_chart(ws, category="name", values=["rate"], title="覆盖率")
    wb.highlight(ws, "rate", "lessThan", [0.6])
    wb.color_scale(ws, "amount")
    wb.highlight_rows(ws, "$C4>10", fill="FFEB9C")
    wb.add_notes("说明", "数据说明", ["覆盖率 = 已建 / 应建", ("数据来源", "coverage")])
    data = wb.to_bytes()
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["覆盖情况", "说明"]
    ranges = {str(cf.sqref) for cf in book.worksheets[0].conditional_formatting}
    assert ranges == {"B4:B6", "E4:E6", "A4:F6"}
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        assert any(n.startswith("xl/charts/chart") for n in names)
        chart_xml = z.read(next(n for n in names if n.startswith("xl/charts/chart"))).decode()
    assert "'覆盖情况'!$B$4:$B$6" in chart_xml and "'覆盖情况'!$A$4:$A$6" in chart_xml
    notes = sheet_values(data, 1)
    assert notes[0][0] == "数据说明"
    assert notes[1][0] == "覆盖率 = 已建 / 应建"
    assert notes[2][:2] == ["数据来源", "coverage"]
    with pytest.raises(KeyError, match="no column 'nope'"):
        wb.highlight(ws, "nope", "lessThan", [1])


def test_large_write_only_sheet_streams_all_rows():
    cols = [Column(f"c{i}", f"列{i}", kind="int") for i in range(5)]
    rows = ({f"c{i}": n * 10 + i for i in range(5)} for n in range(3000))
    wb = WorkbookBuilder(write_only=True)
    wb.add_table(sheet="big", title="t", columns=cols, rows=rows)
    values = sheet_values(wb.to_bytes())
    assert len(values) == FIRST_DATA_ROW - 1 + 3000
    assert values[-1] == [29990, 29991, 29992, 29993, 29994]
    assert wb.tables["big"].last_row == FIRST_DATA_ROW + 2999


def test_empty_table_and_bad_input():
    wb = WorkbookBuilder()
    wb.add_table(sheet="a/b:c[d]*?" + "x" * 40, title="t", columns=[Column("a", "A")], rows=[])
    wb.add_table(sheet="a/b:c[d]*?" + "x" * 40, title="t", columns=[Column("a", "A")], rows=[])
    book = openpyxl.load_workbook(io.BytesIO(wb.to_bytes()))
    assert [len(n) <= 31 for n in book.sheetnames] == [True, True]
    assert len(set(book.sheetnames)) == 2 and "/" not in book.sheetnames[0]
    assert safe_sheet_name("") == "Sheet"
    with pytest.raises(ValueError, match="unknown kind 'money'"):
        Column("x", "X", kind="money")
    with pytest.raises(ValueError, match="at least one column"):
        WorkbookBuilder().add_table(sheet="s", title="t", columns=[], rows=[])


def test_to_bytes_twice_and_empty_workbook():
    wb = WorkbookBuilder(write_only=True)
    wb.add_table(sheet="s", title="t", columns=[Column("a", "A")], rows=[{"a": "x"}])
    assert wb.to_bytes() == wb.to_bytes()
    assert zipfile.is_zipfile(io.BytesIO(WorkbookBuilder().to_bytes()))


def test_period_subtitle():
    text = period_subtitle("2014", "南明区")
    assert text.startswith("考核期 2014 · 单位 南明区 · 生成时间 ")
    assert period_subtitle("2014", lang="en").startswith("Period 2014 · Generated ")


# -- printing ------------------------------------------------------------------------------
def wide_columns(groups: int = 3, per_group: int = 10) -> list[Column]:
    cols = [Column("unit", "单位", width=22), Column("code", "代码", width=12)]
    for g in range(groups):
        cols += [Column(f"g{g}.{i}", f"第{g}组指标{i}", kind="int", group=f"g{g}")
                 for i in range(per_group)]
    return cols


@pytest.mark.parametrize("write_only", [False, True])
def test_wide_table_prints_in_column_groups_repeating_the_keys(write_only):
    cols = wide_columns()
    rows = [{"unit": f"单位{i}", "code": str(i), **{c.key: i for c in cols[2:]}}
            for i in range(30)]
    wb = WorkbookBuilder(write_only=write_only)
    wb.add_table(sheet="宽表", title="宽表", columns=cols, rows=rows, keys=2)
    ws = openpyxl.load_workbook(io.BytesIO(wb.to_bytes())).worksheets[0]
    # 32 columns would print at a few per cent on one page: instead a legible fixed scale,
    # one page per group of ten, the unit and its code repeated on each.
    assert int(ws.page_setup.scale) >= MIN_SCALE
    assert ws.page_setup.orientation == "landscape"
    assert not ws.sheet_properties.pageSetUpPr.fitToPage
    assert [b.id for b in ws.col_breaks.brk] == [12, 22]
    assert ws.print_title_cols == "$A:$B"
    # The title sits over the first printed page, not over all 32 columns.
    assert "A1:L1" in {str(r) for r in ws.merged_cells.ranges}


def test_print_plan_scales_first_then_splits():
    assert plan_print([10] * 5) == plan_print([10] * 5, keys=2)  # fits: 100 %, no breaks
    assert plan_print([10] * 5).scale == 100
    # A little too wide: printed smaller on one page, not split.
    slightly = plan_print([10] * 14)
    assert MIN_SCALE <= slightly.scale < 100 and slightly.breaks == ()
    # A group wider than a page is broken inside the group.
    huge = plan_print([20] + [10] * 40, keys=1, groups=["k"] + ["one"] * 40)
    assert huge.scale >= MIN_SCALE and len(huge.breaks) >= 2


def test_notes_rows_are_as_tall_as_their_text():
    wb = WorkbookBuilder()
    long = "每个指标满分100分，按所列计分方法计分；" * 8
    wb.add_notes("说明", "计分说明", [("计分", long), ("名次", "短"), "一行自由文字"])
    ws = openpyxl.load_workbook(io.BytesIO(wb.to_bytes())).worksheets[0]
    tall, short = ws.row_dimensions[2].height, ws.row_dimensions[3].height
    # About 160 CJK characters in a column 80 wide need four lines at least.
    assert tall >= 4 * LINE_POINTS and short < 2 * LINE_POINTS
    assert ws.cell(2, 2).alignment.wrap_text
    assert "A4:B4" in {str(r) for r in ws.merged_cells.ranges}
    assert ws.cell(2, 2).font.name == FONT and ws.cell(1, 1).font.name == FONT


@pytest.mark.parametrize("write_only", [False, True])
def test_empty_table_says_no_records_only_when_asked(write_only):
    wb = WorkbookBuilder(write_only=write_only)
    wb.add_table(sheet="a", title="空", columns=COLS, rows=[], empty_text=no_records())
    wb.add_table(sheet="b", title="模板", columns=COLS, rows=[])
    data = wb.to_bytes()
    assert sheet_values(data)[FIRST_DATA_ROW - 1][0] == "本期无记录"
    assert len(sheet_values(data, 1)) == HEADER_ROW
    ws = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    assert f"A{FIRST_DATA_ROW}:F{FIRST_DATA_ROW}" in {str(r) for r in ws.merged_cells.ranges}
    assert no_records("en") == "No records in this period"


def test_wrapped_column_rows_and_multiline_headers_are_sized():
    cols = [Column("k", "代码"), Column("m", "计分方法\n（说明）", width=20, wrap=True)]
    wb = WorkbookBuilder()
    wb.add_table(sheet="s", title="t", columns=cols,
                 rows=[{"k": "a", "m": "达标比例：实际值÷目标值×100，封顶100（越高越好）"},
                       {"k": "b", "m": "短"}])
    ws = openpyxl.load_workbook(io.BytesIO(wb.to_bytes())).worksheets[0]
    assert ws.row_dimensions[HEADER_ROW].height == 2 * LINE_POINTS
    assert ws.row_dimensions[FIRST_DATA_ROW].height >= 2 * LINE_POINTS
    assert ws.row_dimensions[FIRST_DATA_ROW + 1].height is None
