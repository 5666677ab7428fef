"""The files offices have: the report template saved by LibreOffice as .xls or .ods
previews exactly like the .xlsx it came from, and the registry import reads CSV in UTF-8 or
GB18030. The copies are made at test time (tests/office.py office_copies)."""

import io
from urllib.parse import unquote

import openpyxl
import pytest

from core.uploads import UploadRejected
from plugins.coverage import intake, services
from plugins.coverage.models import CoverageReport, Organization
from tests.conftest import login, make_user
from tests.office import office_copies
from tests.plugins.coverage.helpers import REPORT, fill
from tests.plugins.coverage.world import build_world, uscc

XLS = "xls:MS Excel 97"
CSV_UTF8 = "csv:Text - txt - csv (StarCalc):44,34,76,1"
CSV_GB18030 = "csv:Text - txt - csv (StarCalc):44,34,85,1"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _second_upload(admin, orgs):
    """Two reports confirmed from an .xlsx, then a template filled with one report as it
    was, one changed, one new and two bad rows."""
    from core.orgs import Period

    period = await Period.get(code="2014Q3")
    first = fill(await services.report_template_bytes(admin, period), {
        orgs["E1"].uscc: REPORT, orgs["E2"].uscc: REPORT})
    pending, _ = await intake.preview_reports(first, "报送.xlsx", "2014Q3", admin)
    await intake.confirm_reports(pending.token, admin)
    return fill(await services.report_template_bytes(admin, period), {
        orgs["E2"].uscc: {"走访次数": 7, "党组织书记": "王书记"},
        orgs["E3"].uscc: {**REPORT, "备注": "新报"},
        orgs["E4"].uscc: {**REPORT, "预备党员": -1},
        orgs["E6"].uscc: {**REPORT, "党组织变动": "不知道"}})


async def test_report_xls_and_ods_made_by_libreoffice_preview_exactly_like_the_xlsx(db):
    w = await build_world()
    admin = await make_user("boss", "admin")
    data = await _second_upload(admin, w["orgs"])
    copies = {"xlsx": data, "xls": office_copies({"报送.xlsx": data}, XLS)["报送.xlsx"],
              "ods": office_copies({"报送.xlsx": data}, "ods")["报送.xlsx"]}
    plans = {kind: (await intake.plan_report_upload(body, f"报送.{kind}", "2014Q3", admin)).plan
             for kind, body in copies.items()}
    want = plans["xlsx"]
    assert want.summary() == {"create": 1, "change": 1, "unchanged": 1, "errors": 2,
                              "error_rows": 2}
    for kind in ("xls", "ods"):
        assert plans[kind].summary() == want.summary(), kind
        assert plans[kind].preview("zh").to_json() == want.preview("zh").to_json(), kind
    # Confirming the .xls stores what the .xlsx would have.
    pending, _ = await intake.preview_reports(copies["xls"], "报送.xls", "2014Q3", admin)
    result = await intake.confirm_reports(pending.token, admin)
    assert (result["create"], result["change"], result["errors"]) == (1, 1, 2)
    e2 = await CoverageReport.get(uscc=w["orgs"]["E2"].uscc, period_code="2014Q3")
    assert (e2.visits, e2.secretary) == (7, "王书记")
    assert (await CoverageReport.get(uscc=w["orgs"]["E3"].uscc)).remarks == "新报"


async def test_a_report_xls_of_another_period_is_refused_like_its_xlsx(db):
    w = await build_world()
    zhang = w["people"]["zhang"]
    from core.orgs import Period

    q4 = fill(await services.report_template_bytes(zhang, await Period.get(code="2014Q4")),
              {w["orgs"]["E4"].uscc: REPORT})
    xls = office_copies({"q4.xlsx": q4}, XLS)["q4.xlsx"]
    with pytest.raises(UploadRejected) as info:
        await intake.preview_reports(xls, "报送.xls", "2014Q3", zhang)
    assert info.value.code == "template_period_mismatch" and info.value.field == "period"


async def _registry_edit() -> bytes:
    """The registry sheet as an admin edits it: one name changed, one organization added."""
    wb = openpyxl.load_workbook(io.BytesIO(await services.registry_template_bytes()))
    ws = wb["组织名册"]
    head = {c.value: c.column for c in ws[3]}
    ws.cell(4, head["名称"], "改名后的组织")
    new = ws.max_row + 1
    for header, value in (("统一社会信用代码", uscc(77)), ("名称", "新建的企业"), ("类别", "非公企业"),
                          ("社区代码", "520102001"), ("正式党员", 2)):
        ws.cell(new, head[header], value)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@pytest.mark.parametrize("target", [CSV_UTF8, CSV_GB18030])
async def test_registry_csv_previews_like_the_xlsx_and_confirms(db, target):
    await build_world()
    admin = await make_user("boss", "admin")
    data = await _registry_edit()
    csv = office_copies({"名册.xlsx": data}, target)["名册.xlsx"]
    _, want = await intake.preview_registry(data, "名册.xlsx", admin)
    pending, plan = await intake.preview_registry(csv, "名册.csv", admin)
    assert want.summary()["create"] == 1 and want.summary()["change"] == 1
    assert plan.summary() == want.summary()
    assert plan.preview("zh").to_json() == want.preview("zh").to_json()
    await intake.confirm_registry(pending.token, admin)
    assert (await Organization.get(uscc=uscc(77))).name == "新建的企业"
    assert await Organization.filter(name="改名后的组织").count() == 1


async def test_pages_take_an_xls_show_the_marked_copy_note_and_refuse_csv_reports(client):
    w = await build_world()
    csrf = await login(client, "zhang")
    r = await client.get("/coverage/")
    assert 'accept=".xlsx,.xls,.xlsb,.ods"' in r.text and "可上传 Excel 工作簿" in r.text
    template = (await client.get("/api/coverage/template", params={"period": "2014Q3"})).content
    data = fill(template, {w["orgs"]["E4"].uscc: REPORT,
                           w["orgs"]["E8"].uscc: {**REPORT, "预备党员": -1}})
    xls = office_copies({"报送.xlsx": data}, XLS)["报送.xlsx"]
    r = await client.post("/imports/coverage-reports", data={"_csrf": csrf, "period": "2014Q3"},
                          files={"file": ("报送.xls", xls, "application/vnd.ms-excel")})
    assert r.status_code == 200, r.text
    assert "原文件为 Excel 97-2003 工作簿（.xls），标出错误的是 .xlsx 副本" in r.text
    marked = r.text.split('id="download-marked" href="')[1].split('"')[0]
    r = await client.get(marked)
    assert r.status_code == 200 and r.content[:2] == b"PK"
    assert unquote(r.headers["content-disposition"]).endswith("标注错误_报送.xlsx")
    ws = openpyxl.load_workbook(io.BytesIO(r.content))["报送"]
    assert any(c.comment and "负数" in c.comment.text for row in ws.iter_rows() for c in row)
    # CSV is for the registry only: the report upload names what it takes.
    r = await client.post("/api/imports/coverage-reports", params={"period": "2014Q3"},
                          files={"file": ("报送.csv", "统一社会信用代码\n1\n".encode(), "text/csv")},
                          headers={"X-CSRF-Token": csrf})
    assert r.status_code == 422 and r.json()["error"]["code"] == "upload_format_not_accepted"
    r = await client.post("/api/imports/coverage-reports", params={"period": "2014Q3"},
                          files={"file": ("报送.xlsx", xls, XLSX)}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 422 and r.json()["error"]["code"] == "upload_format_mismatch"
    assert r.json()["error"]["field"] == "file"


async def test_registry_page_takes_csv(client):
    await build_world()
    await make_user("boss", "admin")
    csrf = await login(client, "boss")
    r = await client.get("/coverage/registry")
    assert 'accept=".xlsx,.xls,.xlsb,.ods,.csv"' in r.text and "GB18030" in r.text
    csv = office_copies({"名册.xlsx": await _registry_edit()}, CSV_GB18030)["名册.xlsx"]
    r = await client.post("/imports/coverage-registry", data={"_csrf": csrf},
                          files={"file": ("名册.csv", csv, "text/csv")})
    assert r.status_code == 200, r.text
    assert "新建的企业" in r.text and "改名后的组织" in r.text  # the create and the change
