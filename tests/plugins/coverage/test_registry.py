"""Registry import (preview/confirm keyed by credit code), missing organizations, history."""

import datetime as dt

import pytest

from core.orgs import OrgUnit
from core.uploads import UploadRejected
from plugins.coverage import intake, registry, services, stats
from plugins.coverage.models import (
    InstructorAssignment,
    MissingOrganization,
    Organization,
    OrganizationHistory,
    PartyOrg,
    PartyOrgLink,
)
from tests.conftest import make_user
from tests.plugins.coverage.helpers import fill, grid
from tests.plugins.coverage.world import build_world, uscc, wrong_check

H = ["统一社会信用代码", "名称", "类别", "社区代码", "正式党员", "党组织名称", "党组织类型", "组建方式",
     "党建指导员", "从业人员", "状态"]


def row(n, name, kind="非公企业", community="520102001", formal=0, party="", ptype="", form="",
        people="", employees=10, status=None):
    values = dict(zip(H, [uscc(n, "91520103"), name, kind, community, formal, party, ptype, form,
                          people, employees, status], strict=True))
    return {k: v for k, v in values.items() if v not in ("", None)}


async def _blank_registry_template():
    return await services.registry_template_bytes(blank=True)


async def _import(admin, rows, full=False):
    data = fill(await _blank_registry_template(), {}, extra=rows)
    pending, plan = await intake.preview_registry(data, "名册.xlsx", admin, full=full)
    return data, pending, plan


async def test_registry_import_creates_orgs_party_orgs_and_assignments(db):
    await build_world()
    admin = await make_user("boss", "admin")
    rows = [
        row(1, "甲公司", formal=4, party="甲公司党支部", ptype="党支部", form="单独组建", people="zhang"),
        row(2, "乙公司", party="白云联合党委", ptype="党委", form="联合组建", people="zhang、li"),
        row(3, "丙协会", kind="社会组织", community="520103001", party="白云联合党委", ptype="党委",
            form="联合组建"),
        row(4, "丁公司", formal=3),
    ]
    data, pending, plan = await _import(admin, rows)
    assert plan.summary()["create"] == 4 and plan.errors == []
    assert not await Organization.filter(uscc=uscc(1, "91520103")).exists()
    result = await intake.confirm_registry(pending.token, admin)
    assert result["create"] == 4
    jia = await Organization.get(uscc=uscc(1, "91520103"))
    assert (jia.name, jia.kind, jia.formal_members, jia.status) == ("甲公司", "enterprise", 4, "active")
    joint = await PartyOrg.get(name="白云联合党委")
    assert (joint.type, joint.formation) == ("committee", "joint")
    assert await PartyOrgLink.filter(party_org=joint).count() == 2
    assert sorted(await InstructorAssignment.filter(
        organization__uscc=uscc(2, "91520103"), end_on=None).values_list(
        "instructor__username", flat=True)) == ["li", "zhang"]
    assert await OrganizationHistory.filter(organization=jia).count() == 1
    # The registry template now lists them; uploading it back changes nothing.
    again = await services.registry_template_bytes()
    assert any(r[0] == uscc(2, "91520103") and r[18] == "li、zhang" for r in grid(again))
    pending2, plan2 = await intake.preview_registry(again, "名册.xlsx", admin)
    assert plan2.summary()["create"] == 0 and plan2.summary()["change"] == 0, plan2.preview().change
    result = await intake.confirm_registry(pending2.token, admin)
    assert result["import_id"] is None  # nothing written
    # The same file twice changes nothing either.
    pending3, plan3 = await intake.preview_registry(data, "名册.xlsx", admin)
    assert plan3.summary() == {"create": 0, "change": 0, "unchanged": 4, "errors": 0,
                               "error_rows": 0, "missing": 0}


async def test_registry_bad_rows_name_row_and_column(db):
    await build_world()
    admin = await make_user("boss", "admin")
    rows = [
        {**row(1, "甲"), "统一社会信用代码": wrong_check(uscc(1, "91520103"))},
        {**row(2, "乙"), "统一社会信用代码": "91520103ABC"},
        {**row(3, "丙"), "统一社会信用代码": uscc(3, "91520103")[:10] + "OOOOOOOO"},
        row(4, "丁", community="999999"),
        row(5, "戊", community="520102"),  # a district, not a community
        row(6, "己", people="nobody"),
        row(7, "庚", employees=-5),
        row(8, "辛", party="联合支部", ptype="党支部", form="联合组建"),
        row(9, "壬", party="联合支部", ptype="党委", form="联合组建"),  # type differs from row 11
        row(8, "辛二"),  # duplicate credit code
        row(10, "癸", kind="国企"),
    ]
    _, pending, plan = await _import(admin, rows)
    got = {(e.row, e.column): e.message for e in plan.errors}
    assert "校验位" in got[(4, "A")]
    assert "18位" in got[(5, "A")]
    assert "不允许的字符" in got[(6, "A")]
    assert "社区代码" in got[(7, "E")] and "社区代码" in got[(8, "E")]
    assert "党建指导员" in got[(9, "S")]
    assert "负数" in got[(10, "F")]
    assert "第11行" in got[(12, "N")]
    assert "重复" in got[(13, "A")]
    assert "国企" in got[(14, "C")]
    assert plan.summary()["create"] == 1  # row 11 only
    await intake.confirm_registry(pending.token, admin)
    assert await Organization.filter(uscc__startswith="91520103").count() == 1


async def test_full_import_lists_missing_organizations_for_close_or_keep(db):
    w = await build_world()
    admin = await make_user("boss", "admin")
    orgs = w["orgs"]
    keep = [k for k in orgs if k not in ("E5", "S3", "E9")]
    data = await services.registry_template_bytes()
    import io

    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb.worksheets[0]
    for r in range(ws.max_row, 3, -1):
        if ws.cell(r, 1).value in (orgs["E5"].uscc, orgs["S3"].uscc):
            ws.delete_rows(r)
    out = io.BytesIO()
    wb.save(out)
    pending, plan = await intake.preview_registry(out.getvalue(), "名册.xlsx", admin, full=True)
    assert sorted(o.uscc for o in plan.missing) == sorted([orgs["E5"].uscc, orgs["S3"].uscc])
    result = await intake.confirm_registry(pending.token, admin)
    assert result["listed_missing"] == 2
    marks = {m.organization.uscc: m for m in await MissingOrganization.all().select_related(
        "organization")}
    assert set(marks) == {orgs["E5"].uscc, orgs["S3"].uscc}
    assert await Organization.filter(closed_on=None).count() == len(keep) + 2  # never deleted
    city = await OrgUnit.get(code="520100")
    q2 = (await stats.figures_for("2014Q2", city))["total"].as_dict()
    await registry.decide_missing(marks[orgs["S3"].uscc].id, "close", "boss",
                                  closed_on=dt.date(2014, 9, 1))
    await registry.decide_missing(marks[orgs["E5"].uscc].id, "keep", "boss")
    s3 = await Organization.get(id=orgs["S3"].id)
    assert (s3.status, s3.closed_on) == ("closed", dt.date(2014, 9, 1))
    history = await OrganizationHistory.filter(organization=s3).order_by("id")
    assert history[-1].before["status"] == "active" and history[-1].after["status"] == "closed"
    q3 = (await stats.figures_for("2014Q3", city))["total"]
    assert q3.orgs == 11  # S3 closed before the end of Q3
    assert (await stats.figures_for("2014Q2", city))["total"].as_dict() == q2  # frozen
    with pytest.raises(Exception) as e:
        await registry.decide_missing(marks[orgs["S3"].uscc].id, "keep", "boss")
    assert getattr(e.value, "field", None) == "decision"
    # The same full import again lists nothing new.
    pending, plan = await intake.preview_registry(out.getvalue(), "名册.xlsx", admin, full=True)
    result = await intake.confirm_registry(pending.token, admin)
    assert result["listed_missing"] == 0


async def test_report_template_is_not_a_registry_file(db):
    w = await build_world()
    admin = await make_user("boss", "admin")
    from core.orgs import Period

    data = await services.report_template_bytes(w["people"]["zhang"], await Period.get(code="2014Q3"))
    with pytest.raises(UploadRejected):
        await intake.preview_registry(data, "报送.xlsx", admin)
