"""The shared cell parser (core.cells) and the reader kit on workbooks as offices send them:
full-width figures, thousands separators, units in headers, two-row merged headers, codes
typed with spaces."""

import io
from decimal import Decimal

import openpyxl
import pytest

from core import cells
from core.uploads import ColumnSpec, read_table

SPECS = [
    ColumnSpec("uscc", "统一社会信用代码", required=True, kind="code"),
    ColumnSpec("name", "组织名称"),
    ColumnSpec("party_members", "党员总数", kind="int"),
    ColumnSpec("formal_members", "正式党员", kind="int"),
    ColumnSpec("probationary_members", "预备党员", kind="int"),
    ColumnSpec("rate", "覆盖率", kind="float", optional=True),
]


@pytest.mark.parametrize(("typed", "value"), [
    ("８５．５", Decimal("85.5")), ("85.5", Decimal("85.5")), ("1,234", Decimal("1234")),
    ("１，２３４．５", Decimal("1234.5")), (" 12 ", Decimal("12")), ("－３", Decimal("-3")),
    (0.1, Decimal("0.1")), (3.0, Decimal("3.0")), (7, Decimal(7)), ("1,234,567", Decimal("1234567")),
])
def test_numbers_as_offices_type_them(typed, value):
    assert cells.number(typed) == value


@pytest.mark.parametrize("typed", ["abc", "1,23", "12,3456", "8５。5", "", "1.2.3", True, "nan",
                                   "inf", float("nan")])
def test_what_is_not_a_number_is_refused_in_chinese_and_english(typed):
    with pytest.raises(cells.CellProblem) as info:
        cells.number(typed)
    assert info.value.message().startswith("应为数字")
    assert info.value.message("en").startswith("should be a number")


def test_whole_numbers_and_indicator_rules():
    assert cells.whole("８５") == 85 and cells.whole(3.0) == 3 and cells.whole("1,200") == 1200
    with pytest.raises(cells.CellProblem, match="not_whole"):
        cells.whole("３．５")
    rules = {"integer": False, "low": Decimal(0), "high": Decimal(100), "places": 2}
    assert cells.decimal_in("８５．５", **rules) == Decimal("85.5")
    for typed, message in (("１２０", "120 超出允许范围 0–100"), ("1.234", "1.234 的小数超过 2 位")):
        with pytest.raises(cells.CellProblem) as info:
            cells.decimal_in(typed, **rules)
        assert info.value.message() == message
    with pytest.raises(cells.CellProblem) as info:
        cells.decimal_in("2.5", integer=True, unit="件")
    assert info.value.message() == "应为整数（单位：件），实际为“2.5”"


def test_codes_and_headers():
    assert cells.code("9152 0102 MA6D NY9X 4R") == "91520102MA6DNY9X4R"
    assert cells.code("９１５２０１０２－ma6dny9x4r") == "91520102MA6DNY9X4R"
    assert cells.code(520102.0) == "520102"
    assert cells.header_forms("党员总数（人）") == {"党员总数(人)", "党员总数"}
    assert cells.header_forms(" 正式党员 [人] *") == {"正式党员[人]", "正式党员"}
    assert cells.header_forms("统一社会信用代码（必填）") == {"统一社会信用代码"}


def _book(build) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "报送"
    build(ws)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_two_row_merged_header_with_units_full_width_figures_and_spaced_codes():
    def build(ws):
        ws.append(["2014年第三季度党建报表"])  # a title row above the header
        ws.append(["统一社会信用代码", "组织名称", "党员情况", None, None, "覆盖率（%）"])
        ws.append([None, None, "党员总数（人）", "正式党员（人）", "预备党员（人）", None])
        ws.merge_cells("A2:A3")
        ws.merge_cells("B2:B3")
        ws.merge_cells("C2:E2")
        ws.merge_cells("F2:F3")
        ws.append(["9152 0102 MA6D NY9X 4R", "甲公司", "１，２０５", "１２００", "５", "８５．５"])
        ws.append(["91520102MA6DNY9X4R", "乙公司", 3, "2", "1", "1,234.5"])

    table = read_table(_book(build), "报送.xlsx", SPECS)
    assert table.errors == []
    assert table.header_row == 3  # the lower header row names the columns
    assert table.letters == {"uscc": "A", "name": "B", "party_members": "C",
                             "formal_members": "D", "probationary_members": "E", "rate": "F"}
    assert table.rows == [
        (4, {"uscc": "91520102MA6DNY9X4R", "name": "甲公司", "party_members": 1205,
             "formal_members": 1200, "probationary_members": 5, "rate": 85.5}),
        (5, {"uscc": "91520102MA6DNY9X4R", "name": "乙公司", "party_members": 3,
             "formal_members": 2, "probationary_members": 1, "rate": 1234.5}),
    ]


def test_a_single_header_row_is_still_read_as_before():
    def build(ws):
        ws.append(["统一社会信用代码", "组织名称", "党员总数", "正式党员", "预备党员"])
        ws.append(["91520102MA6DNY9X4R", "甲公司", "３．５", 2, 1])

    table = read_table(_book(build), "报送.xlsx", SPECS)
    assert table.header_row == 1
    assert [(e.row, e.column, e.message) for e in table.errors] == [
        (2, "C", "应为整数，实际为“３．５”")]
    en = read_table(_book(build), "报送.xlsx", SPECS, lang="en")
    assert en.errors[0].message == "must be a whole number, got '３．５'"
