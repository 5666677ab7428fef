"""Instructor reports: the checks, the form path, uploads with preview/confirm, review."""

import datetime as dt
import io

import openpyxl
import pytest

from core.audit import AuditEntry
from core.errors import Forbidden, Invalid, NotFound
from core.notify_models import InboxMessage
from core.orgs import OrgUnit, Period, PeriodClosedError
from core.uploads import UploadRejected
from core.uploads_models import PendingUpload
from plugins.coverage import compliance, intake, review, services, stats
from plugins.coverage.models import CoverageReport, Organization
from plugins.coverage.reporting import clean_report, submit_one
from tests.plugins.coverage.helpers import REPORT, fill, grid
from tests.plugins.coverage.world import build_world, uscc, wrong_check

Q3 = Period(code="2014Q3", kind="quarter", start=dt.date(2014, 7, 1), end=dt.date(2014, 9, 30))
GOOD = {"uscc": uscc(4), "party_members": 5, "formal_members": 4, "probationary_members": 1}


def _problems(values, **kw):
    _, errors = clean_report({**GOOD, **values}, Q3, on=dt.date(2014, 9, 1), **kw)
    return {(e.field, e.key) for e in errors}


def test_clean_report_accepts_a_good_report():
    clean, errors = clean_report({**GOOD, "visits": "3", "remarks": " ok "}, Q3)
    assert errors == []
    assert clean["visits"] == 3 and clean["remarks"] == "ok" and clean["party_org_change"] == "none"


@pytest.mark.parametrize("values, expect", [
    ({"formal_members": 5, "probationary_members": 1}, ("formal_members", "probationary_as_formal")),
    ({"formal_members": 3, "probationary_members": 1}, ("party_members", "members_sum")),
    ({"formal_members": -1}, ("formal_members", "negative")),
    ({"probationary_members": "1.5"}, ("probationary_members", "not_integer")),
    ({"party_members": "five"}, ("party_members", "not_integer")),
    ({"party_members": None}, ("party_members", "required")),
    ({"visits": -2}, ("visits", "negative")),
    ({"uscc": wrong_check(uscc(4))}, ("uscc", "uscc_check")),
    ({"uscc": uscc(4)[:17]}, ("uscc", "uscc_length")),
    ({"uscc": uscc(4)[:16] + "I" + uscc(4)[17]}, ("uscc", "uscc_chars")),
    ({"party_org_change": "新建党组织", "change_date": "2014-08-01"}, ("party_org_type", "required")),
    ({"party_org_change": "撤销党组织"}, ("change_date", "required")),
    ({"party_org_change": "dissolved", "change_date": "2014-10-02"},
     ("change_date", "date_after_period")),
    ({"party_org_change": "moved"}, ("party_org_change", "choice")),
])
def test_clean_report_names_the_bad_field(values, expect):
    assert expect in _problems(values)


async def test_form_report_by_an_instructor(db):
    w = await build_world()
    zhang = w["people"]["zhang"]
    report, action = await submit_one(zhang, "2014Q3", {**GOOD, "visits": 2})
    assert action == "create" and report.status == "submitted" and report.submitted_by_id == zhang.id
    assert (report.party_members, report.formal_members, report.probationary_members) == (5, 4, 1)
    _, action = await submit_one(zhang, "2014Q3", {**GOOD, "visits": 2})
    assert action == "unchanged"
    with pytest.raises(Forbidden) as e:  # E1 is li's, not zhang's
        await submit_one(zhang, "2014Q3", {**GOOD, "uscc": w["orgs"]["E1"].uscc})
    assert e.value.code == "not_assigned" and e.value.field == "uscc"
    with pytest.raises(Invalid) as e:
        await submit_one(zhang, "2014Q3", {**GOOD, "uscc": uscc(999)})
    assert e.value.field == "uscc"
    with pytest.raises(Invalid) as e:
        await submit_one(zhang, "2014Q3", {**GOOD, "formal_members": 5})
    assert e.value.field == "formal_members" and "预备党员" in e.value.message
    with pytest.raises(PeriodClosedError):
        await submit_one(zhang, "2014Q2", GOOD)
    with pytest.raises(Invalid) as e:
        await submit_one(zhang, "2014", GOOD)  # a year: reports are made per quarter
    assert e.value.field == "period"
    with pytest.raises(NotFound):
        await submit_one(zhang, "2015Q1", GOOD)
    assert await CoverageReport.all().count() == 1


async def _template(user, code="2014Q3"):
    return await services.report_template_bytes(user, await Period.get(code=code))


async def test_template_is_prefilled_with_assigned_orgs_and_has_dropdowns(db):
    w = await build_world()
    zhang = w["people"]["zhang"]
    await submit_one(zhang, "2014Q3", {**GOOD, "remarks": "已走访"})
    data = await _template(zhang)
    rows = grid(data)
    assert rows[2][:4] == ["统一社会信用代码", "组织名称", "类别", "所在社区"]
    body = [r for r in rows[3:] if r[0]]
    assert [r[0] for r in body] == sorted([w["orgs"]["E4"].uscc, w["orgs"]["E8"].uscc])
    e4 = next(r for r in body if r[0] == w["orgs"]["E4"].uscc)
    assert e4[1] == "组织E4" and e4[2] == "非公企业" and e4[4:7] == [5.0, 4.0, 1.0]
    assert e4[13] == "已走访"
    ws = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    lists = sorted(dv.formula1 for dv in ws.data_validations.dataValidation)
    assert lists == ['"党委,党总支,党支部"', '"无变化,新建党组织,撤销党组织"']
    assert grid(data, "_kaohe") == [["template", "coverage-reports"], ["period", "2014Q3"]]


async def test_upload_preview_confirm_and_the_same_file_twice(db):
    w = await build_world()
    zhang, orgs = w["people"]["zhang"], w["orgs"]
    filled = fill(await _template(zhang), {
        orgs["E4"].uscc: {**REPORT, "党组织变动": "新建党组织", "党组织类型": "党支部",
                          "变动日期": dt.date(2014, 8, 18), "党组织书记": "王书记"},
        orgs["E8"].uscc: {**REPORT, "备注": "-无异常"},
    })
    pending, plan = await intake.preview_reports(filled, "报送.xlsx", "2014Q3", zhang)
    assert plan.summary()["create"] == 2 and plan.errors == []
    assert await CoverageReport.all().count() == 0  # nothing saved before the confirm
    assert pending.preview["create"][0]["values"]["party_org_change"] in ("新建党组织", "无变化")
    result = await intake.confirm_reports(pending.token, zhang)
    assert (result["create"], result["change"], result["errors"]) == (2, 0, 0)
    e4 = await CoverageReport.get(uscc=orgs["E4"].uscc, period_code="2014Q3")
    assert (e4.party_org_change, e4.party_org_type, e4.change_date, e4.secretary) == (
        "established", "branch", dt.date(2014, 8, 18), "王书记")
    e8 = await CoverageReport.get(uscc=orgs["E8"].uscc)
    assert e8.remarks == "-无异常"
    stamps = sorted((r.id, r.updated_at) for r in await CoverageReport.all())
    audits = await AuditEntry.filter(action="coverage.report.submit").count()
    # The same file again: everything unchanged, nothing written.
    pending2, plan2 = await intake.preview_reports(filled, "报送.xlsx", "2014Q3", zhang)
    assert plan2.summary() == {"create": 0, "change": 0, "unchanged": 2, "errors": 0,
                               "error_rows": 0}
    again = await intake.confirm_reports(pending2.token, zhang)
    assert (again["create"], again["change"]) == (0, 0)
    assert sorted((r.id, r.updated_at) for r in await CoverageReport.all()) == stamps
    assert await AuditEntry.filter(action="coverage.report.submit").count() == audits
    # A changed cell is a change, and the report goes back to "submitted".
    changed = fill(filled, {orgs["E8"].uscc: {"走访次数": 7}})
    pending3, plan3 = await intake.preview_reports(changed, "报送.xlsx", "2014Q3", zhang)
    assert plan3.summary()["change"] == 1
    assert pending3.preview["change"][0]["changes"] == [
        {"field": "走访次数", "before": 2, "after": 7}]
    with pytest.raises(Exception) as e:  # confirming twice is refused
        await intake.confirm_reports(pending.token, zhang)
    assert getattr(e.value, "status", None) == 409


async def test_upload_bad_rows_are_row_errors_and_only_valid_rows_are_saved(db):
    w = await build_world()
    zhang, orgs = w["people"]["zhang"], w["orgs"]
    filled = fill(await _template(zhang), {
        orgs["E4"].uscc: {**REPORT, "正式党员": 5},  # probationary counted as formal
        orgs["E8"].uscc: REPORT,  # the one good row
    }, extra=[
        {**REPORT, "统一社会信用代码": orgs["E1"].uscc},  # li's organization
        {**REPORT, "统一社会信用代码": wrong_check(orgs["E4"].uscc)},
        {**REPORT, "统一社会信用代码": orgs["E8"].uscc},  # duplicate
        {**REPORT, "统一社会信用代码": uscc(500), "预备党员": -1},
        {**REPORT, "统一社会信用代码": uscc(501), "党员总数": 2.5},
        {**REPORT, "统一社会信用代码": uscc(502)},  # not in the registry
    ])
    pending, plan = await intake.preview_reports(filled, "报送.xlsx", "2014Q3", zhang)
    got = {(e.row, e.column): e.message for e in plan.errors}
    e4_row = 4 if orgs["E4"].uscc < orgs["E8"].uscc else 5
    assert "预备党员" in got[(e4_row, "F")]  # 正式党员 column
    assert "不在您负责的组织之内" in got[(6, "A")]
    assert "校验位" in got[(7, "A")]
    assert "重复" in got[(8, "A")]
    assert "负数" in got[(9, "G")]
    assert "整数" in got[(10, "E")]
    assert "没有" in got[(11, "A")]
    assert plan.summary()["create"] == 1
    result = await intake.confirm_reports(pending.token, zhang)
    assert result["create"] == 1
    assert [r.uscc for r in await CoverageReport.all()] == [orgs["E8"].uscc]
    # The marked workbook: bad cells filled red with a comment saying why.
    from core.uploads import marked_workbook

    pending = await PendingUpload.get(id=pending.id)
    ws = openpyxl.load_workbook(io.BytesIO(marked_workbook(pending))).worksheets[0]
    assert ws["A7"].fill.start_color.rgb.endswith("FFC7CE") and "校验位" in ws["A7"].comment.text
    assert ws["G9"].comment is not None and ws["B9"].comment is None


async def test_template_of_another_period_and_a_closed_period_are_refused(db):
    w = await build_world()
    zhang = w["people"]["zhang"]
    q4 = fill(await _template(zhang, "2014Q4"), {w["orgs"]["E4"].uscc: REPORT})
    with pytest.raises(UploadRejected) as e:
        await intake.preview_reports(q4, "报送.xlsx", "2014Q3", zhang)
    assert e.value.code == "template_period_mismatch" and e.value.field == "period"
    assert "2014Q4" in e.value.message
    with pytest.raises(PeriodClosedError):
        await intake.preview_reports(q4, "报送.xlsx", "2014Q2", zhang)
    assert await PendingUpload.all().count() == 0


async def test_a_confirm_refused_as_a_whole_stores_nothing(db):
    w = await build_world()
    zhang = w["people"]["zhang"]
    filled = fill(await _template(zhang), {w["orgs"]["E4"].uscc: REPORT})
    pending, _ = await intake.preview_reports(filled, "报送.xlsx", "2014Q3", zhang)
    await Period.filter(code="2014Q3").update(status="closed")
    with pytest.raises(PeriodClosedError):
        await intake.confirm_reports(pending.token, zhang)
    assert await CoverageReport.all().count() == 0
    assert (await PendingUpload.get(id=pending.id)).status == "pending"  # the claim rolled back
    with pytest.raises(Exception) as e:  # someone else's upload is not found
        await intake.confirm_reports(pending.token, w["people"]["li"])
    assert getattr(e.value, "status", None) == 404


async def test_confirm_applies_the_report_to_the_registry_and_moves_the_rates(db):
    w = await build_world()
    zhang, orgs = w["people"]["zhang"], w["orgs"]
    admin = await __import__("tests.conftest", fromlist=["make_user"]).make_user("boss", "admin")
    city = await OrgUnit.get(code="520100")
    before = (await stats.figures_for("2014Q3", city))["total"]
    report, _ = await submit_one(zhang, "2014Q3", {
        **GOOD, "uscc": orgs["E4"].uscc, "party_members": 6, "formal_members": 5,
        "party_org_change": "established", "party_org_type": "branch", "change_date": "2014-08-18",
        "secretary": "王书记"})
    assert (await stats.figures_for("2014Q3", city))["total"].as_dict() == before.as_dict()
    await review.confirm(report.id, admin)
    after = (await stats.figures_for("2014Q3", city))["total"]
    assert (after.own, after.instructor_only) == (before.own + 1, before.instructor_only - 1)
    assert after.org_rate == stats.rate(8, 12) and after.should_establish == 2  # E4 has its own now
    e4 = await Organization.get(id=orgs["E4"].id)
    assert (e4.formal_members, e4.probationary_members) == (5, 1)
    with pytest.raises(Exception) as e:
        await review.confirm(report.id, admin)  # already confirmed
    assert getattr(e.value, "status", None) == 409


async def test_returned_report_reaches_the_instructor_inbox(db):
    w = await build_world()
    zhang = w["people"]["zhang"]
    admin = await __import__("tests.conftest", fromlist=["make_user"]).make_user("boss", "admin")
    report, _ = await submit_one(zhang, "2014Q3", GOOD)
    with pytest.raises(Invalid) as e:
        await review.return_report(report.id, admin, "  ")
    assert e.value.field == "reason"
    await review.return_report(report.id, admin, "党员人数与名册不符")
    message = await InboxMessage.get(user=zhang)
    assert "退回" in message.subject and "党员人数与名册不符" in message.body
    assert (await CoverageReport.get(id=report.id)).status == "returned"
    # A returned report does not count as reported until it is sent again.
    rows = {r["username"]: r for r in await compliance.by_instructor("2014Q3")}
    assert (rows["zhang"]["assigned"], rows["zhang"]["reported"]) == (2, 0)
    await submit_one(zhang, "2014Q3", {**GOOD, "visits": 1})
    rows = {r["username"]: r for r in await compliance.by_instructor("2014Q3")}
    assert rows["zhang"]["reported"] == 1 and str(rows["zhang"]["rate"]) == "50.00"
    assert rows["li"]["reported"] == 0 and str(rows["li"]["rate"]) == "0.00"
    assert rows["wang"]["assigned"] == 0 and rows["wang"]["rate"] is None  # ended in July
    assert rows["zhang"]["last_report_at"] is not None
    # The dashboard's count of silent instructors is the list's, counted in the database.
    for code in ("2014Q3", "2014Q4", "2014"):
        listed = await compliance.by_instructor(code)
        silent = sum(1 for r in listed if r["assigned"] and not r["reported"])
        assert await compliance.silent_count(code) == silent, code
    assert await compliance.silent_count("2014Q3") == 1  # li; zhang reported again, wang ended
