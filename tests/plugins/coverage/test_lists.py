"""The coverage lists page in the database: review (and confirming every matching report in
one transaction), the drill-down's tabs, compliance filters, the registry's search, and the
statistics table that lists grids only when asked."""

from __future__ import annotations

import re

import pytest

from core import clock
from core.audit import AuditEntry
from core.orgs import OrgUnit, ensure_unit
from plugins.coverage.models import (
    CoverageReport,
    InstructorAssignment,
    Organization,
    OrganizationHistory,
)
from tests.conftest import login, make_user
from tests.plugins.coverage.world import HGY, QL, build_world, uscc

HX = {"HX-Request": "true", "HX-Target": "results"}
EXTRA_HGY, EXTRA_QL = 30, 12  # extra organizations with a submitted 2014Q3 report


async def _crowd() -> dict:
    """The hand-counted world plus 42 organizations, each assigned to zhang and reported."""
    w = await build_world()
    units = w["units"]
    orgs = [Organization(uscc=uscc(100 + n), name=f"批量组织{n:02d}", kind="enterprise",
                         community=units[HGY if n < EXTRA_HGY else QL], formal_members=1,
                         employees=3) for n in range(EXTRA_HGY + EXTRA_QL)]
    await Organization.bulk_create(orgs)
    made = await Organization.filter(name__startswith="批量组织").order_by("uscc")
    await InstructorAssignment.bulk_create([
        InstructorAssignment(instructor=w["people"]["zhang"], organization=o) for o in made])
    await CoverageReport.bulk_create([
        CoverageReport(organization=o, uscc=o.uscc, period_code="2014Q3", party_members=4,
                       formal_members=4, probationary_members=0, status="submitted",
                       submitted_by=w["people"]["zhang"], submitted_at=clock.now())
        for o in made])
    w["extra"] = made
    return w


async def _admin(client) -> tuple[dict, str]:
    w = await _crowd()
    await make_user("boss", "admin")
    return w, await login(client, "boss")


def _rows(html: str, attr: str = "data-uscc") -> list[str]:
    return re.findall(rf'<tr[^>]* {attr}="([^"]+)"', html)


# -- review --------------------------------------------------------------------------------
async def test_review_pages_filters_and_answers_htmx_with_the_results_only(client):
    w, _ = await _admin(client)
    r = await client.get("/coverage/review?period=2014Q3&status=submitted&size=20")
    assert r.status_code == 200
    total = EXTRA_HGY + EXTRA_QL
    assert f"共 {total} 条" in r.text and len(_rows(r.text)) == 20
    assert f"确认全部符合条件的报送（{total} 份）" in r.text
    second = await client.get("/coverage/review?period=2014Q3&status=submitted&size=20&page=2")
    assert second.status_code == 200
    expected = sorted(o.uscc for o in w["extra"])[20:40]
    assert _rows(second.text) == expected and "第 21–40 条" in second.text
    # a filter by community code is kept in the pager's links
    ql = await client.get(f"/coverage/review?period=2014Q3&status=submitted&unit={QL}&size=5")
    assert f"共 {EXTRA_QL} 条" in ql.text
    assert f"unit={QL}" in ql.text and "page=2" in ql.text and "size=5" in ql.text
    by_name = await client.get("/coverage/review?period=2014Q3&status=submitted&q=批量组织03")
    assert _rows(by_name.text) == [w["extra"][3].uscc]
    part = await client.get(f"/coverage/review?period=2014Q3&status=submitted&unit={QL}",
                            headers=HX)
    assert part.status_code == 200 and part.text.lstrip().startswith('<div id="results">')
    assert "<html" not in part.text and f"共 {EXTRA_QL} 条" in part.text


@pytest.mark.parametrize("query, field, problem", [
    ("page=0", "page", "不能小于 1"), ("size=500", "size", "不能大于 200"),
    ("page=x", "page", "应为整数"), ("status=bogus", "status", "不是可选的取值"),
])
async def test_review_refuses_a_bad_page_or_size_in_chinese(client, query, field, problem):
    await _admin(client)
    r = await client.get(f"/coverage/review?period=2014Q3&{query}", headers={"accept": "text/html"})
    assert r.status_code == 400
    assert f"参数 {field} 无效" in r.text and problem in r.text


async def test_confirm_every_matching_report_in_one_go(client):
    w, csrf = await _admin(client)
    ask = await client.get(f"/coverage/review/confirm-all?period=2014Q3&unit={QL}")
    assert ask.status_code == 200
    assert f'data-count="{EXTRA_QL}"' in ask.text and f"将确认考核期 2014Q3 中 {EXTRA_QL} 份" in ask.text
    assert 'hx-disabled-elt="find button"' in ask.text and "正在确认" in ask.text
    r = await client.post("/coverage/review/confirm-all", data={
        "_csrf": csrf, "period": "2014Q3", "unit": QL, "q": ""})
    assert r.status_code in (302, 303)
    assert f"已确认 {EXTRA_QL} 份报送" in (await client.get(r.headers["location"])).text
    in_ql = {o.id for o in w["extra"][EXTRA_HGY:]}
    confirmed = await CoverageReport.filter(period_code="2014Q3", status="confirmed")
    assert {c.organization_id for c in confirmed} == in_ql
    assert all(c.reviewed_by == "boss" and c.reviewed_at for c in confirmed)
    assert await CoverageReport.filter(period_code="2014Q3", status="submitted").count() == EXTRA_HGY
    # the registry took the reported members; the denominator history and audit have them
    for org in await Organization.filter(id__in=in_ql):
        assert (org.formal_members, org.probationary_members) == (4, 0)
    untouched = await Organization.get(id=w["extra"][0].id)
    assert untouched.formal_members == 1
    assert await OrganizationHistory.filter(organization_id__in=in_ql, source="report").count() \
        == EXTRA_QL
    assert await AuditEntry.filter(action="coverage.report.confirm").count() == EXTRA_QL
    assert await AuditEntry.filter(action="coverage.org.from_report").count() == EXTRA_QL
    # the same form sent again confirms nothing and writes nothing more
    again = await client.post("/coverage/review/confirm-all", data={
        "_csrf": csrf, "period": "2014Q3", "unit": QL, "q": ""},
        headers={"HX-Request": "true"})
    assert again.status_code == 200 and "已确认 0 份" in again.headers["HX-Redirect"].replace(
        "%E5%B7%B2%E7%A1%AE%E8%AE%A4+0+%E4%BB%BD", "已确认 0 份")
    assert await AuditEntry.filter(action="coverage.report.confirm").count() == EXTRA_QL
    assert await OrganizationHistory.filter(source="report").count() == EXTRA_QL
    nothing = await client.get(f"/coverage/review/confirm-all?period=2014Q3&unit={QL}")
    assert 'data-count="0"' in nothing.text and 'id="confirm-all-go"' not in nothing.text


async def test_confirm_all_is_for_the_admin_only(client):
    await _crowd()
    await make_user("boss2", "leader")
    csrf = await login(client, "boss2")
    assert (await client.get("/coverage/review/confirm-all?period=2014Q3")).status_code == 403
    r = await client.post("/coverage/review/confirm-all", data={"_csrf": csrf, "period": "2014Q3"})
    assert r.status_code == 403
    csrf = await login(client, "zhang")
    r = await client.post("/coverage/review/confirm-all", data={"_csrf": csrf, "period": "2014Q3"})
    assert r.status_code == 403
    assert await CoverageReport.filter(status="confirmed").count() == 0


async def test_confirm_all_refuses_a_too_long_filter_naming_it(client):
    _, csrf = await _admin(client)
    r = await client.post("/coverage/review/confirm-all", data={
        "_csrf": csrf, "period": "2014Q3", "unit": "5" * 40}, headers={"accept": "text/html"})
    assert r.status_code == 422 and "单位代码：最多 32 个字" in r.text
    assert await CoverageReport.filter(status="confirmed").count() == 0


async def test_confirm_selected_takes_the_same_bulk_path(client):
    w, csrf = await _admin(client)
    ids = [str(r.id) for r in await CoverageReport.filter(
        organization_id__in=[o.id for o in w["extra"][:3]])]
    r = await client.post("/coverage/review/confirm", data={"_csrf": csrf, "period": "2014Q3",
                                                             "ids": ids})
    assert r.status_code in (302, 303)
    assert await CoverageReport.filter(status="confirmed").count() == 3


# -- drill-down ----------------------------------------------------------------------------
async def test_drilldown_tabs_page_and_filter(client):
    await _admin(client)
    base = "/coverage/drilldown?period=2014Q3&unit=520100&figure=work_rate"
    r = await client.get(base + "&size=20")
    assert r.status_code == 200
    orgs = 12 + EXTRA_HGY + EXTRA_QL  # all of them have an instructor (zhang) or a party org
    work = 10 + EXTRA_HGY + EXTRA_QL
    assert f"分子（{work}）" in r.text and f"分母（{orgs}）" in r.text
    assert f"共 {work} 条" in r.text and r.text.count("<tr>") == 21  # header + 20
    assert f"{100 * work / orgs:.2f}%" in r.text
    den = await client.get(base + "&tab=denominator&size=20&page=3")
    assert f"共 {orgs} 条" in den.text and "第 41–54 条" in den.text
    found = await client.get(base + "&tab=denominator&q=批量组织1")
    assert "共 10 条" in found.text and "tab=denominator" in found.text
    part = await client.get(base + "&tab=denominator&page=2&size=20", headers=HX)
    assert part.text.lstrip().startswith('<div id="results">') and "<html" not in part.text
    assert "第 21–40 条" in part.text
    people = await client.get("/coverage/drilldown?period=2014Q3&unit=520100&figure=instructors")
    assert "共 2 条" in people.text and "zhang" in people.text
    bad = await client.get(base + "&size=0", headers={"accept": "text/html"})
    assert bad.status_code == 400 and "参数 size 无效" in bad.text


# -- compliance ----------------------------------------------------------------------------
async def test_compliance_filters_by_unit_and_reporting_and_pages(client):
    w, _ = await _admin(client)
    for n in range(25):
        await make_user(f"zz{n:02d}", "instructor")
    r = await client.get("/coverage/compliance?period=2014Q3&size=20")
    assert r.status_code == 200 and "共 28 条" in r.text and len(_rows(r.text, "data-user")) == 20
    second = await client.get("/coverage/compliance?period=2014Q3&size=20&page=2")
    assert len(_rows(second.text, "data-user")) == 8
    past = await client.get("/coverage/compliance?period=2014Q3&size=20&page=99")
    assert "第 21–28 条" in past.text and len(_rows(past.text, "data-user")) == 8
    none = await client.get("/coverage/compliance?period=2014Q3&reporting=unassigned")
    assert "共 26 条" in none.text  # the new ones and wang, whose assignment ended in July
    assert "wang" in none.text and "zhang" not in none.text
    ql = await client.get(f"/coverage/compliance?period=2014Q3&unit={QL}")
    assert _rows(ql.text, "data-user") == ["zhang"]  # E8 and the 12 extra ones in 黔灵
    assert '<td class="num" data-label="负责组织">13</td>' in ql.text
    part = await client.get("/coverage/compliance?period=2014Q3&unit=520103&reporting=partial",
                            headers=HX)
    assert part.text.lstrip().startswith('<div id="results">') and "zhang" in part.text
    bad = await client.get("/coverage/compliance?period=2014Q3&reporting=some",
                           headers={"accept": "text/html"})
    assert bad.status_code == 400 and "参数 reporting 无效" in bad.text


# -- registry ------------------------------------------------------------------------------
async def test_registry_pages_and_searches_by_name_or_credit_code(client):
    w, _ = await _admin(client)
    r = await client.get("/coverage/registry?size=20")
    assert "共 55 条" in r.text and r.text.count("/coverage/org/") >= 20
    last = await client.get("/coverage/registry?size=20&page=3")
    assert "第 41–55 条" in last.text
    code = w["extra"][5].uscc
    by_code = await client.get(f"/coverage/registry?q={code[:17]}")
    assert "共 1 条" in by_code.text and code in by_code.text
    by_name = await client.get("/coverage/registry?q=批量组织0&size=5", headers=HX)
    assert by_name.text.lstrip().startswith('<div id="results">')
    assert "共 10 条" in by_name.text and "q=%E6%89%B9" in by_name.text  # kept in the links
    bad = await client.get("/coverage/registry?page=-1", headers={"accept": "text/html"})
    assert bad.status_code == 400 and "参数 page 无效" in bad.text


# -- statistics ----------------------------------------------------------------------------
async def test_statistics_list_grids_only_when_asked(client):
    await _admin(client)
    community = await OrgUnit.get(code=HGY)
    for g in range(3):
        await ensure_unit(f"{HGY}{g:03d}", f"网格{g}", "grid", community)
    plain = await client.get("/coverage/stats?period=2014Q3&unit=520102")
    assert f'data-unit="{HGY}"' in plain.text and f'data-unit="{HGY}000"' not in plain.text
    assert 'id="show-grids"' in plain.text
    shown = await client.get("/coverage/stats?period=2014Q3&unit=520102&grids=true")
    assert all(f'data-unit="{HGY}{g:03d}"' in shown.text for g in range(3))
    assert "&grids=true" in shown.text  # kept while drilling into a unit
    city = await client.get("/coverage/stats?period=2014Q3&unit=520100")
    assert 'id="show-grids"' not in city.text  # no grid within two levels of the city


@pytest.mark.parametrize("figure", ["work_rate", "org_rate", "party_orgs", "instructors",
                                    "should_establish"])
async def test_drilldown_pages_put_together_are_the_whole_list(db, figure):
    from plugins.coverage import listing, stats

    await _crowd()
    unit = await OrgUnit.get(code="520100")
    whole = await stats.drilldown("2014Q3", unit, None, figure)
    result = await listing.drilldown_page("2014Q3", unit, None, figure, None, "", 1, 7, None)
    assert result["value"] == whole["value"]
    for tab in result["tabs"]:
        expected = whole[tab]
        got, page = [], 1
        while True:
            part = await listing.drilldown_page("2014Q3", unit, None, figure, tab, "", page, 7, None)
            assert part["pager"].total == len(expected) == part["counts"][tab]
            got += part["pager"].items
            if not part["pager"].has_next:
                break
            page += 1
        key = "id"
        assert [r[key] for r in got] == [r[key] for r in expected], tab
        if tab not in ("party_orgs", "instructors"):
            assert [r["uscc"] for r in got] == [r["uscc"] for r in expected]


async def test_review_and_compliance_take_the_unit_by_name_from_the_picker(client):
    """The unit filter is the platform's unit picker: a name names the community, the start of
    a code still narrows, and a name of no unit is said beside the field, the input kept."""
    await _admin(client)
    ql = await OrgUnit.get(code=QL)
    by_name = await client.get("/coverage/review", params={
        "period": "2014Q3", "status": "submitted", "unit": ql.name})
    assert by_name.status_code == 200 and f"共 {EXTRA_QL} 条" in by_name.text
    assert 'data-unit-picker' in by_name.text
    # the confirm-all link carries the unit's code, not the typed name
    assert f"confirm-all?period=2014Q3&q=&unit={QL}" in by_name.text
    prefix = await client.get("/coverage/review?period=2014Q3&status=submitted&unit=520103")
    assert f"共 {EXTRA_QL} 条" in prefix.text
    unknown = await client.get("/coverage/review", params={
        "period": "2014Q3", "status": "submitted", "unit": "没有这个社区"})
    assert unknown.status_code == 422
    assert 'id="err-unit"' in unknown.text and 'value="没有这个社区"' in unknown.text
    compliance = await client.get("/coverage/compliance", params={
        "period": "2014Q3", "unit": "没有这个社区"})
    assert compliance.status_code == 422 and 'id="err-unit"' in compliance.text
    named = await client.get("/coverage/compliance", params={"period": "2014Q3", "unit": ql.name})
    assert named.status_code == 200 and "err-unit" not in named.text
