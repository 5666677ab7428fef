"""The Excel reader kit: format and bomb defences, header check, typed cells, marked errors,
and the preview/confirm store."""

import datetime as dt
import io
import os
import struct
import zipfile

import openpyxl
import pytest

from core import uploads, workbook_guard
from core.uploads import CellError, ColumnSpec, Preview, UploadRejected, mark_errors, read_table
from core.xlsx import Column, WorkbookBuilder

SPECS = [
    ColumnSpec("code", "单位代码", required=True, aliases=("代码",)),
    ColumnSpec("name", "单位名称", required=True),
    ColumnSpec("members", "党员数", kind="int"),
    ColumnSpec("rate", "覆盖率", kind="float"),
    ColumnSpec("founded", "成立日期", kind="date"),
    ColumnSpec("active", "是否建立", kind="bool"),
    ColumnSpec("measure", "处理方式", choices={"提醒": "remind", "约谈": "interview"}),
]
HEADER = ["单位代码", "单位名称", "党员数", "覆盖率", "成立日期", "是否建立", "处理方式"]


def workbook(rows, header=HEADER, title_rows=0, sheet="数据") -> bytes:
    """A workbook as a person would fill it in openpyxl (not through our writer)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    for i in range(title_rows):
        ws.append([f"标题{i}"])
    ws.append(header)
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


GOOD = ["520102", "南明区", 12, 83.87, dt.date(2014, 5, 1), "是", "提醒"]


def test_reads_typed_rows():
    data = workbook([GOOD, [520103, "云岩区", 3.0, "1,234.5", "2014/6/2", "否", "interview"],
                     [None] * 7,  # blank rows are skipped, numbering keeps Excel's rows
                     ["520111", "花溪区", None, None, "2014年7月3日", True, None]])
    table = read_table(data, "units.xlsx", SPECS, max_rows=100, max_bytes=10**6)
    assert table.errors == []
    assert table.sheet == "数据" and table.header_row == 1
    assert [n for n, _ in table.rows] == [2, 3, 5]
    first, second, third = (r for _, r in table.rows)
    assert first == {"code": "520102", "name": "南明区", "members": 12, "rate": 83.87,
                     "founded": dt.date(2014, 5, 1), "active": True, "measure": "remind"}
    assert isinstance(first["members"], int)
    # A code typed as a number comes back without ".0"; 3.0 is the integer 3.
    assert second["code"] == "520103" and second["members"] == 3 and type(second["members"]) is int
    assert second["rate"] == 1234.5 and second["founded"] == dt.date(2014, 6, 2)
    assert second["active"] is False and second["measure"] == "interview"
    assert third["members"] is None and third["founded"] == dt.date(2014, 7, 3)


def test_reads_back_our_own_writer_output_with_title_rows():
    cols = [Column("code", "单位代码"), Column("name", "单位名称"), Column("n", "党员数", kind="int")]
    wb = WorkbookBuilder()
    wb.add_table(sheet="s", title="模板", columns=cols, rows=[{"code": "520102", "name": "南明区",
                                                                "n": 7}])
    specs = [ColumnSpec("code", "单位代码"), ColumnSpec("name", "单位名称"),
             ColumnSpec("n", "党员数", kind="int")]
    table = read_table(wb.to_bytes(), "t.xlsx", specs, max_rows=10, max_bytes=10**6)
    assert table.header_row == 3
    assert table.rows == [(4, {"code": "520102", "name": "南明区", "n": 7})]


def test_a_refused_choice_lists_the_names_in_the_readers_language():
    """A column taking a code or its Chinese or English name lists one name per choice."""
    spec = ColumnSpec("severity", "严重程度", choices={"紧急": "urgent", "Urgent": "urgent",
                                                    "urgent": "urgent", "一般": "minor",
                                                    "Minor": "minor", "minor": "minor"})
    assert uploads.convert("x", spec, "zh")[1] == "“x”不是可选值（可选：紧急、一般）"
    assert uploads.convert("x", spec, "en")[1].endswith("(choose from: Urgent, Minor)")


def test_cell_errors_name_row_column_and_header():
    rows = [
        ["520102", "南明区", 3.5, "abc", "2014-13-01", "也许", "罚款"],
        [None, "", "x", 1, 44000, 1, "约谈"],
    ]
    table = read_table(workbook(rows, title_rows=1), "u.xlsx", SPECS, max_rows=10,
                       max_bytes=10**6)
    got = {(e.row, e.column, e.header): e.message for e in table.errors}
    assert got[(3, "C", "党员数")] == "应为整数，实际为“3.5”"
    assert got[(3, "D", "覆盖率")] == "应为数字，实际为“abc”"
    assert got[(3, "E", "成立日期")] == "应为日期（yyyy-mm-dd），实际为“2014-13-01”"
    assert got[(3, "F", "是否建立")] == "应为“是”或“否”，实际为“也许”"
    assert got[(3, "G", "处理方式")] == "“罚款”不是可选值（可选：提醒、约谈）"
    assert got[(4, "A", "单位代码")] == "必填，不能为空"
    assert got[(4, "B", "单位名称")] == "必填，不能为空"
    assert got[(4, "C", "党员数")] == "应为整数，实际为“x”"
    assert len(table.errors) == 8  # the serial date 44000 and the bool 1 are fine
    assert table.rows[1][1]["founded"] == dt.date(2020, 6, 18)
    assert table.valid_rows() == []
    assert all(e.sheet == "数据" for e in table.errors)
    text = table.errors[0].text()
    assert "第 3 行" in text and "C 列" in text and "党员数" in text
    assert "row 3" in table.errors[0].text("en")


def test_int_column_rejects_fractions_in_text_too():
    spec = ColumnSpec("n", "数量", kind="int")
    assert uploads.convert("12", spec) == (12, None)
    assert uploads.convert("1,200", spec) == (1200, None)
    assert uploads.convert(-4.0, spec) == (-4, None)
    assert uploads.convert("3.5", spec)[1] == "应为整数，实际为“3.5”"
    assert uploads.convert(True, spec)[1] is not None
    assert uploads.convert("3.5", spec, lang="en")[1] == "must be a whole number, got '3.5'"
    check = ColumnSpec("c", "代码", check=lambda v: None if len(v) == 6 else "应为6位代码")
    assert uploads.convert("12345", check) == (None, "应为6位代码")


def test_header_check_names_missing_unknown_and_repeated_columns():
    header = ["代码", "单位名称", "党员人数", "覆盖率", "覆盖率", "是否建立", "处理方式"]
    with pytest.raises(UploadRejected) as info:
        read_table(workbook([GOOD], header=header), "u.xlsx", SPECS, max_rows=10, max_bytes=10**6)
    exc = info.value
    assert exc.code == "upload_bad_header"
    assert "缺少列：党员数、成立日期" in exc.message
    assert "无法识别的列：C“党员人数”" in exc.message
    assert "列重复：“覆盖率”（D、E）" in exc.message
    cells = {(e.column, e.header, e.message) for e in exc.errors}
    assert ("C", "党员人数", "无法识别的列") in cells
    assert ("", "成立日期", "缺少此列") in cells
    assert ("E", "覆盖率", "与 D 列重复") in cells
    # The same file is accepted when unknown columns are allowed and the columns are optional.
    specs = [ColumnSpec(s.key, s.header, s.kind, aliases=s.aliases,
                        optional=s.key in ("members", "founded")) for s in SPECS]
    with pytest.raises(UploadRejected, match="列重复"):
        read_table(workbook([GOOD], header=header), "u.xlsx", specs, allow_unknown=True,
                   max_rows=10, max_bytes=10**6)
    header[4] = "备注"
    table = read_table(workbook([GOOD], header=header), "u.xlsx", specs, allow_unknown=True,
                       max_rows=10, max_bytes=10**6)
    assert table.letters == {"code": "A", "name": "B", "rate": "D", "active": "F", "measure": "G"}
    assert table.rows[0][1]["members"] is None


def test_no_header_and_empty_sheet():
    with pytest.raises(UploadRejected, match="找不到表头") as info:
        read_table(workbook([["a", "b"]], header=["x", "y"]), "u.xlsx", SPECS, max_rows=10,
                   max_bytes=10**6)
    assert info.value.code == "upload_bad_header"
    wb = openpyxl.Workbook()
    buf = io.BytesIO()
    wb.save(buf)
    with pytest.raises(UploadRejected) as info:
        read_table(buf.getvalue(), "u.xlsx", SPECS, max_rows=10, max_bytes=10**6)
    assert info.value.code == "upload_empty"
    with pytest.raises(UploadRejected, match="没有工作表“其他”"):
        read_table(workbook([GOOD]), "u.xlsx", SPECS, sheet="其他", max_rows=10, max_bytes=10**6)


@pytest.mark.parametrize("name, code", [
    ("units.xls", "upload_format_mismatch"), ("units.csv", "upload_format_mismatch"),
    ("units.xlsx.exe", "upload_unknown_format"), ("units.txt", "upload_unknown_format")])
def test_wrong_extension(name, code):
    with pytest.raises(UploadRejected) as info:
        read_table(workbook([GOOD]), name, SPECS, max_rows=10, max_bytes=10**6)
    assert info.value.code == code and name in info.value.message


def test_a_name_without_extension_takes_the_contents_format():
    assert read_table(workbook([GOOD]), "units", SPECS, max_rows=10, max_bytes=10**6).ok


def test_renamed_text_file_and_renamed_zip():
    with pytest.raises(UploadRejected) as info:
        read_table("单位代码,单位名称\n520102,南明区\n".encode(), "units.xlsx", SPECS,
                   max_rows=10, max_bytes=10**6)
    assert info.value.code == "upload_format_mismatch"
    assert "扩展名是 .xlsx，内容却是 CSV 文本" in info.value.message
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(UploadRejected, match="无法识别“units.xlsx”的格式") as info:
        read_table(buf.getvalue(), "units.xlsx", SPECS, max_rows=10, max_bytes=10**6)
    assert info.value.code == "upload_unknown_format"


def test_oversized_file_uses_limit_from_settings(settings):
    data = workbook([GOOD])
    with pytest.raises(UploadRejected) as info:
        read_table(data, "u.xlsx", SPECS, max_rows=10, max_bytes=len(data) - 1)
    assert info.value.code == "upload_too_large" and info.value.status == 413
    assert "上限" in info.value.message
    # settings.storage.max_upload_mb applies when no explicit limit is given.
    settings.core.storage.max_upload_mb = 0
    with pytest.raises(UploadRejected, match="文件过大"):
        read_table(data, "u.xlsx", SPECS, settings=settings)
    settings.core.storage.max_upload_mb = 1
    assert read_table(data, "u.xlsx", SPECS, settings=settings).ok


def test_too_many_rows(settings):
    data = workbook([GOOD] * 6)
    assert len(read_table(data, "u.xlsx", SPECS, max_rows=6, max_bytes=10**6).rows) == 6
    with pytest.raises(UploadRejected) as info:
        read_table(data, "u.xlsx", SPECS, max_rows=5, max_bytes=10**6)
    assert info.value.code == "upload_too_many_rows" and "6 行，上限 5 行" in info.value.message
    settings.core.storage.max_upload_rows = 5
    with pytest.raises(UploadRejected, match="上限 5 行"):
        read_table(data, "u.xlsx", SPECS, settings=settings)


def _with_sheet_xml(data: bytes, sheet_xml: bytes, level: int = 9) -> bytes:
    """Replace the first sheet's XML of a real workbook."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as z:
        for info in src.infolist():
            body = sheet_xml if info.filename == "xl/worksheets/sheet1.xml" else src.read(info)
            z.writestr(info.filename, body)
    return out.getvalue()


def test_zip_bomb_is_refused_before_parsing():
    # 200 MB of one repeated row compresses to a few hundred kilobytes.
    row = b'<row><c t="inlineStr"><is><t>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA</t></is></c></row>'
    body = (b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
            b'spreadsheetml/2006/main"><sheetData>' + row * (200 * 1024 * 1024 // len(row))
            + b"</sheetData></worksheet>")
    bomb = _with_sheet_xml(workbook([GOOD]), body)
    del body
    assert len(bomb) < 1_000_000
    with pytest.raises(UploadRejected) as info:
        read_table(bomb, "u.xlsx", SPECS, max_rows=10, max_bytes=10**6)
    assert info.value.code == "upload_zip_bomb"
    assert "xl/worksheets/sheet1.xml" in info.value.message and "疑似压缩炸弹" in info.value.message


def test_zip_bomb_with_lying_size_header_is_refused():
    row = b"<row/>"
    body = b"<worksheet><sheetData>" + row * 3_000_000 + b"</sheetData></worksheet>"
    data = bytearray(_with_sheet_xml(workbook([GOOD]), body))
    # Claim the 18 MB part is 1 KB in both the local and the central header.
    name = b"xl/worksheets/sheet1.xml"
    local = data.find(b"PK\x03\x04")
    while local != -1:
        if data[local + 30: local + 30 + len(name)] == name:
            struct.pack_into("<I", data, local + 22, 1024)
        local = data.find(b"PK\x03\x04", local + 4)
    central = data.find(b"PK\x01\x02")
    while central != -1:
        if data[central + 46: central + 46 + len(name)] == name:
            struct.pack_into("<I", data, central + 24, 1024)
        central = data.find(b"PK\x01\x02", central + 4)
    with pytest.raises(UploadRejected) as info:
        read_table(bytes(data), "u.xlsx", SPECS, max_rows=10, max_bytes=10**6)
    assert info.value.code == "upload_corrupt"


def test_too_many_entries_or_unpacked_size(monkeypatch):
    monkeypatch.setattr(workbook_guard, "MAX_UNZIPPED_BYTES", 1000)
    with pytest.raises(UploadRejected, match="MB unpacked") as info:
        uploads.check_container(workbook([GOOD]), "u.xlsx", max_bytes=10**6)
    assert info.value.code == "upload_zip_bomb"
    monkeypatch.setattr(workbook_guard, "MAX_ZIP_ENTRIES", 3)
    with pytest.raises(UploadRejected, match="entries"):
        uploads.check_container(workbook([GOOD]), "u.xlsx", max_bytes=10**6, max_unzipped=10**9)


def test_xml_entity_bomb_is_refused():
    lol = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
           b' <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n'
           b' <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">\n]>\n'
           b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol3;</t></is></c></row>'
           b"</sheetData></worksheet>")
    with pytest.raises(UploadRejected) as info:
        read_table(_with_sheet_xml(workbook([GOOD]), lol), "u.xlsx", SPECS, max_rows=10,
                   max_bytes=10**6)
    assert info.value.code == "upload_xml_bomb" and "xl/worksheets/sheet1.xml" in info.value.message
    # A declaration pushed far down behind a long comment is still found.
    noise = os.urandom(1_500_000).hex().encode()  # incompressible, so no ratio alarm first
    padded = lol.replace(b"<!DOCTYPE", b"<!--" + noise + b"-->\n<!DOCTYPE")
    with pytest.raises(UploadRejected, match="XML 炸弹"):
        read_table(_with_sheet_xml(workbook([GOOD]), padded), "u.xlsx", SPECS, max_rows=10,
                   max_bytes=10**7)
    # The same declaration in UTF-16 is caught as well.
    utf16 = lol.decode().replace('version="1.0"', 'version="1.0" encoding="UTF-16"').encode("utf-16-le")
    with pytest.raises(UploadRejected, match="XML 炸弹"):
        read_table(_with_sheet_xml(workbook([GOOD]), utf16), "u.xlsx", SPECS, max_rows=10,
                   max_bytes=10**6)


def test_mark_errors_returns_users_workbook_with_fill_and_comments():
    rows = [["520102", "南明区", 3.5, "abc", None, None, None], GOOD]
    data = workbook(rows, title_rows=2)
    table = read_table(data, "u.xlsx", SPECS, max_rows=10, max_bytes=10**6)
    extra = table.add_error(5, "code", "单位代码重复")
    assert extra.column == "A"
    marked = mark_errors(data, table.errors + [CellError("数据", 5, "", "整行无法导入", "")])
    ws = openpyxl.load_workbook(io.BytesIO(marked))["数据"]
    assert ws["C4"].fill.fgColor.rgb.endswith("FFC7CE")
    assert ws["C4"].comment.text == "应为整数，实际为“3.5”"
    assert ws["D4"].comment.text == "应为数字，实际为“abc”"
    assert ws["A5"].comment.text == "单位代码重复\n整行无法导入"
    assert ws["B4"].comment is None and not ws["B4"].fill.fgColor.rgb.endswith("FFC7CE")
    # The user's own content is unchanged.
    assert ws["A1"].value == "标题0" and ws["B5"].value == "南明区" and ws["C4"].value == 3.5
    # Header errors mark the header cells; error dicts (from a stored preview) work too.
    marked = mark_errors(data, [{"sheet": "数据", "row": 3, "column": "B", "message": "未知列",
                                 "header": "x"}])
    assert openpyxl.load_workbook(io.BytesIO(marked))["数据"]["B3"].comment.text == "未知列"
    with pytest.raises(UploadRejected):
        mark_errors(b"not a zip", [], "u.xlsx")


# -- preview / confirm store -----------------------------------------------------------------
async def test_pending_upload_confirm_once_by_owner_before_expiry(db):
    from core.audit import AuditEntry
    from core.uploads_models import PendingUpload
    from tests.conftest import make_user

    owner = await make_user("owner", "admin")
    other = await make_user("other", "admin")
    data = workbook([GOOD])
    preview = Preview(columns=[("code", "单位代码")], create=[{"row": 2, "values": {"code": "1"}}])
    pending = await uploads.stage("coverage-orgs", owner, "../../单位.xlsx", data, preview,
                                  context={"period": "2014"})
    assert pending.filename == "单位.xlsx" and len(pending.token) >= 40
    stored = await PendingUpload.get(id=pending.id)
    assert bytes(stored.data) == data and stored.preview["create"][0]["values"] == {"code": "1"}

    with pytest.raises(uploads.PendingError) as info:
        await uploads.take(pending.token, other)
    assert info.value.code == "upload_not_found" and info.value.status == 404
    with pytest.raises(uploads.PendingError):
        await uploads.take(pending.token, owner, importer="another-importer")
    taken = await uploads.take(pending.token, owner, importer="coverage-orgs")
    assert taken.status == "confirmed" and taken.context == {"period": "2014"}
    with pytest.raises(uploads.PendingError) as info:
        await uploads.take(pending.token, owner)
    assert info.value.code == "upload_already_confirmed" and info.value.status == 409
    actions = [e.action for e in await AuditEntry.filter(object_type="pending_upload")]
    assert actions == ["upload.stage", "upload.confirm"]

    late = await uploads.stage("coverage-orgs", owner, "a.xlsx", data, preview, ttl_minutes=30)
    await PendingUpload.filter(id=late.id).update(
        expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    with pytest.raises(uploads.PendingError) as info:
        await uploads.take(late.token, owner)
    assert info.value.code == "upload_expired"
    assert (await PendingUpload.get(id=late.id)).status == "pending"


async def test_pending_upload_with_errors_and_rollback(db):
    from tortoise.transactions import in_transaction

    from core.uploads_models import PendingUpload
    from tests.conftest import make_user

    owner = await make_user("owner2", "instructor")
    data = workbook([["520102", "南明区", 3.5, None, None, None, None]])
    table = read_table(data, "u.xlsx", SPECS, max_rows=10, max_bytes=10**6)
    bad = await uploads.stage("x", owner, "u.xlsx", data, Preview(errors=table.errors))
    with pytest.raises(uploads.PendingError) as info:
        await uploads.take(bad.token, owner)
    assert info.value.code == "upload_has_errors"
    marked = uploads.marked_workbook(await uploads.get_pending(bad.token, owner))
    assert openpyxl.load_workbook(io.BytesIO(marked)).active["C2"].comment.text.startswith("应为整数")

    good = await uploads.stage("x", owner, "u.xlsx", workbook([GOOD]), Preview())
    # A failing import inside the transaction releases the claim: the upload can be retried.
    with pytest.raises(RuntimeError):
        async with in_transaction():
            await uploads.take(good.token, owner)
            raise RuntimeError("import failed half way")
    assert (await PendingUpload.get(id=good.id)).status == "pending"
    assert (await uploads.take(good.token, owner)).status == "confirmed"

    gone = await uploads.stage("x", owner, "u.xlsx", workbook([GOOD]), Preview())
    await uploads.discard(gone.token, owner)
    with pytest.raises(uploads.PendingError, match="已经确认过"):
        await uploads.take(gone.token, owner)


async def test_concurrent_confirms_have_one_winner(db):
    import asyncio

    from tests.conftest import make_user

    owner = await make_user("owner3", "admin")
    pending = await uploads.stage("x", owner, "u.xlsx", workbook([GOOD]), Preview())
    results = await asyncio.gather(*(uploads.take(pending.token, owner) for _ in range(5)),
                                   return_exceptions=True)
    assert sum(1 for r in results if not isinstance(r, Exception)) == 1
    assert all(r.code == "upload_already_confirmed" for r in results if isinstance(r, Exception))


async def test_generic_preview_page_renders(db):
    from pathlib import Path

    import jinja2

    from core import i18n
    from tests.conftest import make_user

    owner = await make_user("owner4", "admin")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(
        Path(uploads.__file__).parent / "templates"), autoescape=True)
    preview = Preview(columns=[("code", "单位代码"), ("name", "单位名称")],
                      create=[{"row": 2, "values": {"code": "520102", "name": "<b>南明区</b>"}}],
                      change=[{"row": 3, "label": "云岩区", "changes": [
                          {"field": "党员数", "before": 3, "after": 5}]}])
    pending = await uploads.stage("x", owner, "u.xlsx", workbook([GOOD]), preview)
    ctx = uploads.preview_context(pending, confirm_url="/x/confirm", marked_url="/x/marked")
    html = env.get_template("upload_preview.html").render(
        _=lambda k, **kw: i18n.t(k, "zh", **kw), csrf="tok", **ctx)
    assert 'id="confirm-form"' in html and pending.token in html and 'value="tok"' in html
    assert "&lt;b&gt;南明区&lt;/b&gt;" in html and "云岩区" in html and "将修改" in html
    assert "download-marked" not in html  # nothing to mark

    table = read_table(workbook([["520102", "南明区", 3.5, None, None, None, None]]), "u.xlsx",
                       SPECS, max_rows=10, max_bytes=10**6)
    bad = await uploads.stage("x", owner, "u.xlsx", workbook([GOOD]), Preview(errors=table.errors))
    html = env.get_template("upload_preview.html").render(
        _=lambda k, **kw: i18n.t(k, "zh", **kw), csrf="tok",
        **uploads.preview_context(bad, confirm_url="/x/confirm", marked_url="/x/marked"))
    assert 'id="confirm-form"' not in html and 'href="/x/marked"' in html
    assert "应为整数，实际为“3.5”" in html and "C（党员数）" in html
