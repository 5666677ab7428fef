"""Hostile workbooks are refused, with a message naming the sheet and its size, before any
reader allocates them. Reads that could abort the process run in a child process with a
memory ceiling, so a regression fails the test instead of killing pytest."""

import io
import json
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import openpyxl
import pytest

from core import sheet_scan
from core.uploads import ColumnSpec, UploadRejected, read_table
from tests.core import hostile

ROOT = Path(__file__).resolve().parents[2]
SPECS = [ColumnSpec("code", "单位代码", required=True), ColumnSpec("name", "单位名称")]


def legit(rows: int = 3, sheet: str = "数据") -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(["单位代码", "单位名称"])
    for i in range(rows):
        ws.append([f"52010{i}", f"单位{i}"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def read_in_child(data: bytes, call: str = "read", limit_mb: int = 1500) -> dict:
    """Run the read in a child process under an address-space limit; report what happened."""
    code = textwrap.dedent(f"""
        import json, resource, sys
        resource.setrlimit(resource.RLIMIT_AS, ({limit_mb} << 20, {limit_mb} << 20))
        from core.uploads import ColumnSpec, UploadRejected, read_table
        data = sys.stdin.buffer.read()
        try:
            if {call!r} == "read":
                read_table(data, "u.xlsx", [ColumnSpec("code", "单位代码", required=True),
                                            ColumnSpec("name", "单位名称")])
            else:
                from plugins.coverage.workbooks import REPORT_TEMPLATE, read_upload
                read_upload(data, "u.xlsx", REPORT_TEMPLATE, None, "zh")
            out = {{"code": None}}
        except UploadRejected as exc:
            out = {{"code": exc.code, "message": exc.message}}
        # VmHWM, not ru_maxrss: the latter keeps the parent's peak across exec.
        hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
        out["peak_mb"] = int(hwm.split()[1]) // 1024
        print(json.dumps(out))
    """)
    proc = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, f"reader died ({proc.returncode}): {proc.stderr[-800:]!r}"
    return json.loads(proc.stdout.decode().strip().splitlines()[-1])


def test_sparse_sheet_a1_xfd90000_is_refused_without_allocating():
    # python-calamine alone asks for 47 GB here and aborts the whole process.
    out = read_in_child(hostile.sparse(legit(), "XFD90000"))
    assert out["code"] == "upload_sheet_too_large"
    assert "工作表“数据”" in out["message"] and "A1:XFD90000" in out["message"]
    assert "90000 行 × 16384 列" in out["message"]
    assert out["peak_mb"] < 200


def test_sparse_sheet_z1000000_is_refused_by_rows_before_reading():
    out = read_in_child(hostile.sparse(legit(), "Z1000000"))
    assert out["code"] == "upload_sheet_too_large"
    assert "1000000 行 × 26 列" in out["message"] and "最多 100000 行数据" in out["message"]
    assert out["peak_mb"] < 200  # reading it took 1.2 GB


def test_sparse_hidden_sheet_of_a_template_is_refused():
    # The report template's hidden stamp sheet was read with no check at all.
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "报送"
    ws.append(["统一社会信用代码", "党员总数", "正式党员", "预备党员"])
    meta = wb.create_sheet("_kaohe")
    meta.append(["template", "coverage-reports"])
    meta["XFD90000"] = "x"
    buf = io.BytesIO()
    wb.save(buf)
    out = read_in_child(buf.getvalue(), call="template")
    assert out["code"] == "upload_sheet_too_large" and "工作表“_kaohe”" in out["message"]


def test_cells_without_references_are_placed_as_the_reader_places_them():
    base = legit()
    wide = hostile.replace_part(base, hostile.SHEET1, hostile.sparse_without_refs(10, 300))
    with pytest.raises(UploadRejected, match="300 列") as info:
        read_table(wide, "u.xlsx", SPECS)
    assert info.value.code == "upload_sheet_too_large"
    tall = hostile.replace_part(base, hostile.SHEET1, hostile.sparse_without_refs(120_000, 3))
    out = read_in_child(tall)
    assert out["code"] == "upload_sheet_too_large" and "120002 行 × 3 列" in out["message"]


def test_namespace_prefixed_sheet_is_scanned_too():
    data = hostile.replace_part(legit(), hostile.SHEET1, hostile.prefixed_sparse("XFD90000"))
    out = read_in_child(data)
    assert out["code"] == "upload_sheet_too_large" and "A1:XFD90000" in out["message"]


def test_sheet_moved_to_another_part_by_its_relationship_is_scanned():
    base = hostile.sparse(legit(), "XFD90000")
    body = hostile.part_of(base, hostile.SHEET1)
    rels = hostile.part_of(base, "xl/_rels/workbook.xml.rels").replace(
        b"worksheets/sheet1.xml", b"data/table.xml")
    moved = hostile.replace_part(hostile.replace_part(base, "xl/_rels/workbook.xml.rels", rels),
                                 hostile.SHEET1, b"")
    moved = hostile.replace_part(moved, "xl/data/table.xml", body)
    out = read_in_child(moved)
    assert out["code"] == "upload_sheet_too_large" and "工作表“数据”" in out["message"]


def test_declared_dimension_that_lies_is_refused_and_named():
    data = hostile.lying_dimension(legit(), "A1:XFD1048576")
    with pytest.raises(UploadRejected) as info:
        read_table(data, "u.xlsx", SPECS)
    assert info.value.code == "upload_sheet_too_large" and info.value.status == 413
    assert "A1:XFD1048576" in info.value.message and "1048576 行 × 16384 列" in info.value.message
    # A truthful dimension is fine.
    assert read_table(hostile.lying_dimension(legit(), "A1:B4"), "u.xlsx", SPECS).ok


def test_limits_follow_settings_and_the_message_has_an_english_form(settings):
    data = legit(rows=3)
    settings.core.storage.max_upload_rows = 5
    assert read_table(data, "u.xlsx", SPECS, settings=settings).ok
    far = hostile.sparse(data, "B40")  # 40 rows: 5 data rows plus 20 title rows is the limit
    with pytest.raises(UploadRejected, match="最多 5 行数据"):
        read_table(far, "u.xlsx", SPECS, settings=settings)
    with pytest.raises(UploadRejected, match=r'Sheet "数据" is too large: A1:B40 \(40 rows'):
        read_table(far, "u.xlsx", SPECS, settings=settings, lang="en")
    with pytest.raises(UploadRejected, match="IW"):  # 257 columns, one over the limit
        read_table(hostile.sparse(data, "IW2"), "u.xlsx", SPECS)
    assert read_table(hostile.sparse(data, "IV2"), "u.xlsx", SPECS, allow_unknown=True).ok


def test_huge_shared_string_table_is_refused():
    data = hostile.shared_strings_bomb(legit(), count=3_000_000)
    assert len(data) < 20 * 1024 * 1024
    with pytest.raises(UploadRejected) as info:
        read_table(data, "u.xlsx", SPECS)
    assert info.value.code == "upload_too_many_strings"
    assert "xl/sharedStrings.xml" in info.value.message and "共享文本" in info.value.message


def test_every_probe_file_gets_a_named_refusal():
    base = legit()
    cases = {
        "upload_zip_bomb": hostile.zip_bomb(base),
        "upload_corrupt": hostile.lying_zip(base),
        "upload_xml_bomb": hostile.entity_bomb(base),
    }
    for code, data in cases.items():
        with pytest.raises(UploadRejected) as info:
            read_table(data, "u.xlsx", SPECS, max_bytes=10**7)
        assert info.value.code == code
        assert info.value.message and not info.value.message.startswith("upload.")
    with pytest.raises(UploadRejected, match="XML 炸弹"):
        read_table(hostile.entity_bomb(base, hidden=True), "u.xlsx", SPECS, max_bytes=10**7)


def _random_sheet(rng: random.Random) -> bytes:
    """Rows and cells with and without references, in the orders writers produce."""
    parts, row = [], 0
    for _ in range(rng.randint(1, 12)):
        row = row + rng.randint(1, 4) if rng.random() < 0.6 else row + 1
        explicit_row = rng.random() < 0.5
        parts.append(f'<row r="{row}">' if explicit_row else "<row>")
        col = 0
        for _ in range(rng.randint(0, 6)):
            if rng.random() < 0.5:
                col += rng.randint(1, 5)
                ref = f"{sheet_scan.column_letter(col)}{row}"
                parts.append(f'<c r="{ref}" t="inlineStr"><is><t>v</t></is></c>')
            else:
                col += 1
                parts.append('<c t="inlineStr"><is><t>v</t></is></c>')
        parts.append("</row>")
    return hostile.NS + b"<sheetData>" + "".join(parts).encode() + b"</sheetData></worksheet>"


def test_scan_never_underestimates_what_the_reader_allocates():
    from python_calamine import CalamineWorkbook

    rng = random.Random(13)
    base = legit()
    for _ in range(60):
        body = _random_sheet(rng)
        data = hostile.replace_part(base, hostile.SHEET1, body, level=1)
        sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
        grid = sheet.to_python(skip_empty_area=False)
        rows, cols = len(grid), max((len(r) for r in grid), default=0)
        for scan in (sheet_scan.SheetScan(), sheet_scan.WalkScan()):
            try:
                for i in range(0, len(body), 7):  # tiny chunks: tags cut everywhere
                    scan.feed(body[i:i + 7])
                scan.finish()
            except sheet_scan.SlowPathNeeded:
                continue
            assert scan.rows >= rows and scan.columns >= cols, (body, rows, cols)
