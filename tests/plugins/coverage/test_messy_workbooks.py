"""Coverage uploads as offices really send them: their own two-row header with units,
full-width figures and credit codes typed with spaces."""

import io

import openpyxl

from core.orgs import OrgUnit
from plugins.coverage import intake
from plugins.coverage.models import CoverageReport, Organization
from tests.conftest import make_user
from tests.plugins.coverage.world import build_world, uscc


def _spaced(code: str) -> str:
    return " ".join(code[i:i + 4] for i in range(0, len(code), 4))


def _office_report(rows) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "报送"
    ws.append(["统一社会信用代码", "组织名称", "党员情况", None, None, "走访次数（次）"])
    ws.append([None, None, "党员总数（人）", "正式党员（人）", "预备党员（人）", None])
    for rng in ("A1:A2", "B1:B2", "C1:E1", "F1:F2"):
        ws.merge_cells(rng)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


async def test_office_report_with_merged_header_units_and_spaced_codes(db):
    w = await build_world()
    zhang, orgs = w["people"]["zhang"], w["orgs"]
    e4, e8 = orgs["E4"].uscc, orgs["E8"].uscc
    data = _office_report([[_spaced(e4), "组织E4", "５", "４", "１", "２"],
                           [e8.lower(), "组织E8", 3, "2", "1", "1,0"]])
    pending, plan = await intake.preview_reports(data, "报送.xlsx", "2014Q3", zhang)
    assert [(e.row, e.column, e.message) for e in plan.errors] == [
        (4, "F", "应为整数，实际为“1,0”")]
    assert plan.summary()["create"] == 1
    result = await intake.confirm_reports(pending.token, zhang)
    assert result["create"] == 1
    report = await CoverageReport.get(uscc=e4, period_code="2014Q3")
    assert (report.party_members, report.formal_members, report.probationary_members,
            report.visits) == (5, 4, 1, 2)


async def test_registry_code_with_inner_spaces_is_valid_once_spaces_go(db):
    await build_world()
    admin = await make_user("boss", "admin")
    community = await OrgUnit.get(code="520102001")
    code = uscc(41, "91520103")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "组织名册"
    ws.append(["统一社会信用代码", "名称", "类别", "社区代码", "正式党员（人）", "从业人员（人）"])
    ws.append([_spaced(code), "空格公司", "非公企业", f" {community.code} ", "３", "1,200"])
    buf = io.BytesIO()
    wb.save(buf)
    pending, plan = await intake.preview_registry(buf.getvalue(), "名册.xlsx", admin)
    assert plan.errors == [] and plan.summary()["create"] == 1
    await intake.confirm_registry(pending.token, admin)
    org = await Organization.get(uscc=code)
    assert (org.name, org.formal_members, org.employees) == ("空格公司", 3, 1200)
