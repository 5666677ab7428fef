""".xls, .xlsb, .ods and CSV uploads: the format decided from the content, real files
written by LibreOffice read exactly like the .xlsx they came from, and hostile files of
each format refused before python-calamine allocates them.

The LibreOffice copies are made at test time from the project's own templates (one soffice
run per target format, kept for the session: tests/office.py office_copies). LibreOffice
cannot write .xlsb (it has an import filter only), so the .xlsb files are small workbooks
saved by Excel, from python-calamine's upstream test suite (tests/fixtures/README.md);
LibreOffice reads them back as the second reader. Hostile reads run in a child process
under a memory ceiling, so a regression fails the test instead of killing pytest.
"""

import datetime as dt
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import openpyxl
import pytest
from python_calamine import CalamineWorkbook
from stdnum.cn import uscc

from core import upload_format, uploads
from core.uploads import WITH_CSV, CellError, UploadRejected, mark_errors, read_table
from plugins.coverage.workbooks import (
    registry_specs,
    registry_template,
    report_specs,
    report_template,
)
from tests.core import hostile_formats as H
from tests.office import office_copies

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
XLS = "xls:MS Excel 97"
ODS = "ods"
CSV_UTF8 = "csv:Text - txt - csv (StarCalc):44,34,76,1"
CSV_GB18030 = "csv:Text - txt - csv (StarCalc):44,34,85,1"
TSV_UTF8 = "csv:Text - txt - csv (StarCalc):9,34,76,1"
SEMICOLON_GB18030 = "csv:Text - txt - csv (StarCalc):59,34,85,1"


def code(i: int) -> str:
    body = f"91520102{i:09d}"
    return body + uscc.calc_check_digit(body)


def report_xlsx() -> bytes:
    """The report template with people's values: good rows, a bad count, a bad choice."""
    rows = [{"uscc": code(i), "name": f"贵阳某企业{i}", "kind": "非公企业",
             "community": "花果园社区"} for i in range(1, 7)]
    wb = openpyxl.load_workbook(io.BytesIO(report_template("2014Q3", rows, "党建覆盖报送")))
    ws = wb["报送"]
    head = {c.value: c.column for c in ws[3]}
    values = {4: {"党员总数": 5, "正式党员": 4, "预备党员": 1, "走访次数": 2,
                  "变动日期": dt.date(2014, 8, 1), "党组织变动": "新建党组织", "党组织类型": "党支部"},
              5: {"党员总数": "x", "正式党员": 1}, 6: {"党员总数": 3, "正式党员": 3, "预备党员": 0,
                                                      "党组织变动": "新建", "备注": "-无异常"}}
    for row, cells in values.items():
        for header, value in cells.items():
            ws.cell(row, head[header], value)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def registry_xlsx(n: int = 12) -> bytes:
    rows = [{"uscc": code(i), "name": f"贵阳某企业{i}号", "kind": "非公企业" if i % 3 else "社会组织",
             "community": "520102001", "employees": 10 + i, "formal_members": i % 5,
             "probationary_members": i % 2, "valid_from": dt.date(2014, 1, 1 + i % 28),
             "demo_site": "是" if i % 4 == 0 else "否"} for i in range(1, n + 1)]
    return registry_template(rows, "组织名册")


def table_of(data: bytes, name: str, specs, **kw):
    t = read_table(data, name, specs, allow_unknown=True, accept=WITH_CSV, **kw)
    return t.header_row, t.letters, t.rows, [e.as_dict() | {"sheet": ""} for e in t.errors]


@pytest.fixture(scope="module")
def report_copies() -> dict[str, bytes]:
    data = report_xlsx()
    return {"xlsx": data, "xls": office_copies({"report.xlsx": data}, XLS)["report.xlsx"],
            "ods": office_copies({"report.xlsx": data}, ODS)["report.xlsx"]}


@pytest.fixture(scope="module")
def registry_copies() -> dict[str, bytes]:
    data = registry_xlsx()
    one = {"registry.xlsx": data}
    return {"xlsx": data, "xls": office_copies(one, XLS)["registry.xlsx"],
            "ods": office_copies(one, ODS)["registry.xlsx"],
            "utf8.csv": office_copies(one, CSV_UTF8)["registry.xlsx"],
            "gb18030.csv": office_copies(one, CSV_GB18030)["registry.xlsx"],
            "tab.csv": office_copies(one, TSV_UTF8)["registry.xlsx"],
            "semicolon.csv": office_copies(one, SEMICOLON_GB18030)["registry.xlsx"]}


# -- the format from the content ---------------------------------------------------------------
def test_each_real_file_is_recognised_by_its_content(report_copies, registry_copies):
    assert upload_format.sniff(report_copies["xlsx"]) == "xlsx"
    assert upload_format.sniff(report_copies["xls"]) == "xls"
    assert upload_format.sniff(report_copies["ods"]) == "ods"
    assert upload_format.sniff((FIXTURES / "issues.xlsb").read_bytes()) == "xlsb"
    for name in ("utf8.csv", "gb18030.csv", "tab.csv", "semicolon.csv"):
        assert upload_format.sniff(registry_copies[name]) == "csv", name
    # The GB18030 copy really is GB18030, not UTF-8 again.
    with pytest.raises(UnicodeDecodeError):
        registry_copies["gb18030.csv"].decode("utf-8")


@pytest.mark.parametrize("kind, name, found", [
    ("xls", "报送.xlsx", "Excel 97-2003 工作簿（.xls）"), ("ods", "报送.xls", "OpenDocument 表格（.ods）"),
    ("xlsx", "报送.ods", "Excel 工作簿（.xlsx）"), ("xlsx", "报送.csv", "Excel 工作簿（.xlsx）")])
def test_a_name_that_says_another_format_is_refused(report_copies, kind, name, found):
    with pytest.raises(UploadRejected) as info:
        read_table(report_copies[kind], name, report_specs(), accept=WITH_CSV)
    assert info.value.code == "upload_format_mismatch"
    assert f"“{name}”的扩展名是 {Path(name).suffix}，内容却是 {found}" in info.value.message


def test_unknown_content_and_formats_an_importer_does_not_take(registry_copies, report_copies):
    import segno

    png = io.BytesIO()
    segno.make("https://example.org/s/1").save(png, kind="png")
    pdf = office_copies({"report.xlsx": report_copies["xlsx"]}, "pdf")["report.xlsx"]
    for data in (pdf, png.getvalue(), b"a,b\x00c"):
        with pytest.raises(UploadRejected, match="无法识别“名册.xlsx”的格式") as info:
            read_table(data, "名册.xlsx", registry_specs())
        assert info.value.code == "upload_unknown_format"
    # CSV where the importer takes workbooks only: the message names what it takes.
    with pytest.raises(UploadRejected) as info:
        read_table(registry_copies["utf8.csv"], "名册.csv", registry_specs())
    assert info.value.code == "upload_format_not_accepted"
    assert "此处不接受 CSV 文本（.csv）" in info.value.message
    assert ".xlsx、.xls、.xlsb、.ods" in info.value.message


def test_a_word_document_named_xls_is_not_a_workbook(tmp_path):
    import docx

    document = docx.Document()
    document.add_paragraph("不是表格")
    path = tmp_path / "note.docx"
    document.save(path)
    doc = office_copies({"note.docx": path.read_bytes()}, "doc:MS Word 97")["note.docx"]
    assert doc.startswith(upload_format.OLE2_MAGIC)  # the same container as .xls
    with pytest.raises(UploadRejected) as info:
        read_table(doc, "note.xls", registry_specs())
    assert info.value.code == "upload_not_workbook" and "不是 Excel 工作簿" in info.value.message


# -- real files read like their .xlsx ---------------------------------------------------------
def test_libreoffice_xls_and_ods_read_exactly_like_the_xlsx(report_copies):
    want = table_of(report_copies["xlsx"], "报送.xlsx", report_specs())
    assert want[3], "the sample has errors to compare"
    assert table_of(report_copies["xls"], "报送.xls", report_specs()) == want
    assert table_of(report_copies["ods"], "报送.ods", report_specs()) == want


def test_registry_csv_in_utf8_gb18030_with_bom_tabs_or_semicolons_reads_like_the_xlsx(
        registry_copies):
    want = table_of(registry_copies["xlsx"], "名册.xlsx", registry_specs())
    assert len(want[2]) == 12
    for name in ("xls", "ods"):
        assert table_of(registry_copies[name], f"名册.{name}", registry_specs()) == want, name
    bom = b"\xef\xbb\xbf" + registry_copies["utf8.csv"]  # what Excel's "CSV UTF-8" writes
    for name, data in [*((n, registry_copies[n]) for n in
                         ("utf8.csv", "gb18030.csv", "tab.csv", "semicolon.csv")),
                       ("bom.csv", bom)]:
        assert table_of(data, f"名册-{name}", registry_specs()) == want, name
    book = uploads.open_book(registry_copies["gb18030.csv"], "名册.csv", accept=WITH_CSV)
    assert (book.encoding, book.delimiter, book.sheet_names) == ("gb18030", ",", ["名册"])


def test_real_xlsb_reads_like_libreoffices_xlsx_of_it():
    data = (FIXTURES / "issues.xlsb").read_bytes()
    again = office_copies({"issues.xlsb": data}, "xlsx")["issues.xlsb"]
    ours = uploads.open_book(data, "issues.xlsb")
    theirs = CalamineWorkbook.from_filelike(io.BytesIO(again))
    assert ours.sheet_names == theirs.sheet_names
    for name in ("issue2", "spc_chrs"):
        assert ours.get_sheet_by_name(name).to_python() == theirs.get_sheet_by_name(name).to_python()
    grid = uploads.read_grid(data, "issues.xlsb", "issue2")
    assert grid == [[1.0, "a"], [2.0, "b"], [3.0, "c"]]


# -- the same limits --------------------------------------------------------------------------
def test_configured_row_limit_applies_to_every_format(settings):
    data = registry_xlsx(150)
    copies = {"xlsx": data, **{k: office_copies({"big.xlsx": data}, t)["big.xlsx"]
                               for k, t in (("xls", XLS), ("ods", ODS), ("csv", CSV_UTF8))}}
    settings.core.storage.max_upload_rows = 100
    for kind, body in copies.items():
        with pytest.raises(UploadRejected) as info:
            read_table(body, f"big.{kind}", registry_specs(), settings=settings, accept=WITH_CSV)
        # Rows beyond the data limit plus the rows allowed above a header: refused unread.
        assert info.value.code in ("upload_sheet_too_large", "upload_too_many_rows"), kind
        assert info.value.status == 413
    settings.core.storage.max_upload_rows = 200
    for kind, body in copies.items():
        assert len(read_table(body, f"big.{kind}", registry_specs(), settings=settings,
                              accept=WITH_CSV).rows) == 150, kind


def test_byte_limit_applies_to_every_format(report_copies, registry_copies):
    for kind, body in [*report_copies.items(), ("csv", registry_copies["utf8.csv"]),
                       ("xlsb", (FIXTURES / "issues.xlsb").read_bytes())]:
        with pytest.raises(UploadRejected) as info:
            uploads.open_book(body, f"f.{kind}", max_bytes=len(body) - 1, accept=WITH_CSV)
        assert info.value.code == "upload_too_large" and info.value.status == 413, kind


# -- CSV ----------------------------------------------------------------------------------------
def test_csv_that_is_neither_utf8_nor_gb18030_is_refused_naming_the_encodings(registry_copies):
    # Valid text for 64 KB, then a byte no encoding taken here has.
    data = registry_copies["utf8.csv"] + ("x,y,z,w\n" * 9000).encode() + b"\xff\xfe\n"
    with pytest.raises(UploadRejected) as info:
        read_table(data, "名册.csv", registry_specs(), accept=WITH_CSV)
    assert info.value.code == "upload_csv_encoding"
    assert "UTF-8 或 GB18030" in info.value.message


def test_csv_too_wide_too_long_a_cell_or_too_many_rows_names_the_row():
    wide = ("a,b\n" + "," * 300 + "\n").encode()
    with pytest.raises(UploadRejected, match="第 2 行有 301 列") as info:
        read_table(wide, "名册.csv", registry_specs(), accept=WITH_CSV)
    assert info.value.code == "upload_sheet_too_large"
    long_cell = ("统一社会信用代码,名称\n" + "1,2\n" * 3 + '"' + "长" * 200_000 + '"\n').encode()
    with pytest.raises(UploadRejected, match="第 5 行无法读取：单元格内容过长") as info:
        read_table(long_cell, "名册.csv", registry_specs(), accept=WITH_CSV)
    assert info.value.code == "upload_corrupt"
    with pytest.raises(UploadRejected) as info:
        read_table(H.csv_rows(200_000), "名册.csv", registry_specs(), accept=WITH_CSV)
    assert info.value.code == "upload_too_many_rows" and "上限 100000 行" in info.value.message


def test_csv_row_errors_name_row_and_column(registry_copies):
    text = registry_copies["utf8.csv"].decode("utf-8").splitlines()
    row = text[4].split(",")
    row[5] = "很多"  # 从业人员
    text[4] = ",".join(row)
    table = read_table("\n".join(text).encode("gb18030"), "名册.csv", registry_specs(),
                       accept=WITH_CSV, allow_unknown=True)
    assert [(e.row, e.column, e.header) for e in table.errors] == [(5, "F", "从业人员")]
    assert "第 5 行 F 列（从业人员）" in table.errors[0].text()


# -- marked copies ------------------------------------------------------------------------------
def test_marked_copy_of_an_xls_is_an_xlsx_with_the_cells_marked_and_the_stamp_kept(
        report_copies, tmp_path):
    table = read_table(report_copies["xls"], "报送.xls", report_specs(), allow_unknown=True)
    marked = mark_errors(report_copies["xls"], table.errors, "报送.xls")
    assert upload_format.sniff(marked) == "xlsx"
    book = openpyxl.load_workbook(io.BytesIO(marked))
    assert book.sheetnames == ["报送", "_kaohe"] and book["_kaohe"].sheet_state == "hidden"
    ws = book["报送"]
    assert ws["E5"].comment.text.startswith("应为整数") and ws["E5"].fill.start_color.rgb.endswith("FFC7CE")
    assert ws["N6"].value == "-无异常"
    # A second reader sees the same cells as in the upload; the copy reads as the template.
    assert (CalamineWorkbook.from_filelike(io.BytesIO(marked)).get_sheet_by_name("报送").to_python()
            == CalamineWorkbook.from_filelike(io.BytesIO(report_copies["xls"]))
            .get_sheet_by_name("报送").to_python())
    assert table_of(marked, "标注错误_报送.xlsx", report_specs()) == table_of(
        report_copies["xls"], "报送.xls", report_specs())
    # LibreOffice opens the copy too.
    csv = office_copies({"marked.xlsx": marked}, CSV_UTF8)["marked.xlsx"].decode("utf-8")
    assert "贵阳某企业2" in csv and "2014-08-01" in csv
    assert uploads.marked_filename("报送.xls", "标注错误_") == "标注错误_报送.xlsx"
    assert uploads.marked_copy_of("报送.ods") == "ods" and uploads.marked_copy_of("报送.xlsx") == ""


def test_marked_copy_of_a_csv_keeps_text_that_looks_like_a_formula_as_text(registry_copies):
    data = registry_copies["gb18030.csv"] + "=SUM(A1),@x\n".encode("gb18030")
    marked = mark_errors(data, [CellError("名册", 4, "B", "名称重复", "名称")], "名册.csv")
    ws = openpyxl.load_workbook(io.BytesIO(marked))["名册"]
    assert ws["B4"].comment.text == "名称重复" and ws["A3"].value == "统一社会信用代码"
    assert (ws["A16"].value, ws["A16"].data_type, ws["B16"].value) == ("=SUM(A1)", "s", "@x")


# -- hostile files --------------------------------------------------------------------------------
def read_in_child(data: bytes, filename: str, limit_mb: int = 1500) -> dict:
    """read_table in a child process under an address-space limit (no guard: the reader
    aborts the process on such files; see bench/bench_hostile.py)."""
    code = textwrap.dedent(f"""
        import json, resource, sys
        resource.setrlimit(resource.RLIMIT_AS, ({limit_mb} << 20, {limit_mb} << 20))
        import python_calamine
        from core.uploads import UploadRejected, read_grid
        reached = []
        real = python_calamine.CalamineWorkbook.from_filelike
        python_calamine.CalamineWorkbook.from_filelike = lambda f: reached.append(1) or real(f)
        data = sys.stdin.buffer.read()
        try:
            read_grid(data, {filename!r}, "x")
            out = {{"code": None}}
        except UploadRejected as exc:
            out = {{"code": exc.code, "message": exc.message}}
        out["reader_opened"] = bool(reached)
        hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
        out["peak_mb"] = int(hwm.split()[1]) // 1024
        print(json.dumps(out))
    """)
    proc = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, f"reader died ({proc.returncode}): {proc.stderr[-800:]!r}"
    return json.loads(proc.stdout.decode().strip().splitlines()[-1])


HOSTILE = {
    # name: (format, builder, expected code, words in the message)
    "xls DIMENSIONS of 50 million rows": ("xls", H.xls_lying_dimensions, "upload_sheet_too_large",
                                          "50000000 行 × 255 列"),
    "xls cell at row 65,535, column 16,383": ("xls", H.xls_far_cell, "upload_sheet_too_large",
                                              "A1:XFC65535"),
    "xls sheet past the stream": ("xls", H.xls_sheet_past_stream, "upload_corrupt", "past the stream"),
    "xls directory chain loop": ("xls", H.xls_directory_loop, "upload_corrupt", "OLE2"),
    "xls DIFAT chain loop": ("xls", H.xls_difat_loop, "upload_corrupt", "OLE2"),
    "xls four billion FAT sectors": ("xls", H.xls_huge_fat_count, "upload_corrupt", "OLE2"),
    "xls truncated": ("xls", H.truncated, "upload_corrupt", "文件已损坏"),
    "xlsb column 4,000,000,000": ("xlsb", H.xlsb_far_column, "upload_sheet_too_large",
                                  "4000000001 列"),
    "xlsb row 1,000,000 column 16,000": ("xlsb", H.xlsb_far_row, "upload_sheet_too_large",
                                         "1000001 行 × 16001 列"),
    "xlsb lying dimension": ("xlsb", H.xlsb_lying_dimension, "upload_sheet_too_large", "1048576 行"),
    "xlsb zip bomb": ("xlsb", H.xlsb_zip_bomb, "upload_zip_bomb", "疑似压缩炸弹"),
    "xlsb record cut short": ("xlsb", H.xlsb_cut_record, "upload_corrupt", "sheet1.bin"),
    "xlsb sheet without its part": ("xlsb", H.xlsb_sheet_without_part, "upload_corrupt", "Sheet1"),
    "xlsb truncated": ("xlsb", H.truncated, "upload_corrupt", "压缩包不完整"),
    "ods a row repeated a million times": ("ods", H.ods_repeated_rows, "upload_sheet_too_large",
                                           "工作表“报送”"),
    "ods sparse: a million empty rows then one cell": ("ods", H.ods_sparse,
                                                       "upload_sheet_too_large", "16000 列"),
    "ods a value repeated over 16,384 columns": ("ods", H.ods_wide_repeat,
                                                 "upload_sheet_too_large", "16384 列"),
    "ods zip bomb": ("ods", H.ods_zip_bomb, "upload_zip_bomb", "content.xml"),
    "ods entity bomb": ("ods", H.ods_entity_bomb, "upload_xml_bomb", "content.xml"),
    "ods truncated": ("ods", H.truncated, "upload_corrupt", "压缩包不完整"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_file_is_refused_before_the_reader_opens_it(case, report_copies):
    kind, build, code, words = HOSTILE[case]
    base = (FIXTURES / "date.xlsb").read_bytes() if kind == "xlsb" else report_copies[kind]
    out = read_in_child(build(base), f"报送.{kind}")
    assert out["code"] == code, out
    assert words in out["message"]
    assert not out["reader_opened"] and out["peak_mb"] < 300, out


def test_a_reader_panic_is_a_broken_file_not_a_server_error(report_copies, monkeypatch):
    """python-calamine raises pyo3's PanicException (a BaseException) on some broken files
    the guard lets through; the kit answers it as a broken file."""
    import python_calamine

    class PanicException(BaseException):
        pass

    def panics(_):
        raise PanicException("index out of bounds")

    monkeypatch.setattr(python_calamine.CalamineWorkbook, "from_filelike", panics)
    with pytest.raises(UploadRejected) as info:
        read_table(report_copies["ods"], "报送.ods", report_specs())
    assert info.value.code == "upload_corrupt" and "index out of bounds" in info.value.message
