"""The API and pages of the coverage plugin, through the whole app."""

import re

import pytest

from core.notify_models import InboxMessage
from plugins.coverage.models import CoverageReport, Organization, PartyOrg
from tests.conftest import login, make_user
from tests.plugins.coverage.helpers import REPORT, fill
from tests.plugins.coverage.world import build_world, uscc

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _world_and_users():
    w = await build_world()
    await make_user("boss", "admin")
    await make_user("lead", "leader")
    await make_user("nanming", "unit_officer", unit_code="520102")
    return w


async def test_stats_and_drilldown_api(client):
    w = await _world_and_users()
    await login(client, "boss")
    r = await client.get("/api/coverage/stats", params={"period": "2014Q3", "unit": "520100"})
    assert r.status_code == 200, r.text
    body = r.json()
    total = body["figures"]["total"]
    assert (total["orgs"], total["org_covered"], total["org_rate"], total["work_rate"]) == (
        12, 7, 58.33, 83.33)
    assert [c["code"] for c in body["children"]] == ["520102", "520102001", "520103", "520103001"]
    assert body["children"][0]["figures"]["enterprise"]["org_rate"] == 66.67
    r = await client.get("/api/coverage/drilldown", params={
        "period": "2014Q3", "unit": "520102001", "kind": "social", "figure": "work_rate"})
    d = r.json()
    assert d["value"] == 66.67
    assert sorted(o["uscc"] for o in d["numerator"]) == sorted(
        [w["orgs"]["S1"].uscc, w["orgs"]["S2"].uscc])
    assert d["tab"] == "numerator" and d["counts"] == {"numerator": 2, "denominator": 3}
    assert "denominator" not in d and r.headers["X-Total-Count"] == "2"
    r = await client.get("/api/coverage/drilldown", params={
        "period": "2014Q3", "unit": "520102001", "kind": "social", "figure": "work_rate",
        "tab": "denominator"})
    assert len(r.json()["denominator"]) == 3 and "numerator" not in r.json()
    r = await client.get("/api/coverage/drilldown", params={"period": "2014Q3", "figure": "nope"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "figure"
    r = await client.get("/api/coverage/stats", params={"period": "2099Q1"})
    assert r.status_code == 404 and r.json()["error"]["field"] == "period"


async def test_unit_officer_sees_only_their_subtree(client):
    await _world_and_users()
    await login(client, "nanming")
    r = await client.get("/api/coverage/stats", params={"period": "2014Q3"})
    assert r.status_code == 200 and r.json()["unit"]["code"] == "520102"
    assert r.json()["figures"]["total"]["orgs"] == 9
    r = await client.get("/api/coverage/stats", params={"period": "2014Q3", "unit": "520103"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "outside_unit"
    r = await client.get("/api/coverage/drilldown", params={"period": "2014Q3", "unit": "520100",
                                                           "figure": "orgs"})
    assert r.status_code == 403 and r.json()["error"]["field"] == "unit"


async def test_instructor_reports_by_json_and_bad_input_names_the_field(client):
    w = await _world_and_users()
    csrf = await login(client, "zhang")
    h = {"X-CSRF-Token": csrf}
    good = {"period": "2014Q3", "uscc": w["orgs"]["E4"].uscc, "party_members": 4,
            "formal_members": 3, "probationary_members": 1}
    r = await client.post("/api/coverage/reports", json=good, headers=h)
    assert r.status_code == 200 and r.json()["action"] == "create"
    cases = [
        ({"uscc": w["orgs"]["E1"].uscc}, 403, "uscc"),
        ({"formal_members": -3}, 400, "formal_members"),  # refused by the typed body
        ({"formal_members": "2.5"}, 400, "formal_members"),
        ({"formal_members": 4}, 422, "formal_members"),  # probationary counted as formal
        ({"uscc": uscc(4)[:17] + "0"}, 422, "uscc"),
        ({"period": "2014Q2"}, 409, None),
        ({"period": "2014"}, 422, "period"),
    ]
    for change, status, field in cases:
        r = await client.post("/api/coverage/reports", json={**good, **change}, headers=h)
        assert r.status_code == status, (change, r.text)
        if field:
            assert r.json()["error"]["field"] == field, (change, r.json())
    assert await CoverageReport.all().count() == 1
    r = await client.get("/api/coverage/my-organizations", params={"period": "2014Q3"})
    assert [o["uscc"] for o in r.json()["organizations"]] == sorted(
        [w["orgs"]["E4"].uscc, w["orgs"]["E8"].uscc])
    r = await client.get("/api/coverage/stats")
    assert r.status_code == 403  # instructors have their own page, not the statistics


async def test_upload_through_the_api_then_admin_confirms_and_returns(client):
    w = await _world_and_users()
    csrf = await login(client, "zhang")
    r = await client.get("/api/coverage/template", params={"period": "2014Q3"})
    assert r.status_code == 200 and r.headers["content-type"].startswith(XLSX)
    data = fill(r.content, {w["orgs"]["E4"].uscc: {**REPORT, "党组织变动": "新建党组织",
                                                   "党组织类型": "党支部", "变动日期": "2014-09-01"},
                            w["orgs"]["E8"].uscc: {**REPORT, "预备党员": -1}})
    r = await client.post("/api/imports/coverage-reports", params={"period": "2014Q3"},
                          files={"file": ("报送.xlsx", data, XLSX)}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    preview = r.json()
    assert preview["create"] == 1 and len(preview["errors"]) == 1
    err = preview["errors"][0]
    assert err["column"] == "G" and err["header"] == "预备党员" and "负数" in err["message"]
    r = await client.get(preview["marked"])
    assert r.status_code == 200 and r.content[:2] == b"PK"
    r = await client.post(f"/api/imports/coverage-reports/{preview['token']}/confirm",
                          headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["result"]["create"] == 1
    report = await CoverageReport.get(uscc=w["orgs"]["E4"].uscc)
    # The wrong period's template is refused with the field named.
    q4 = (await client.get("/api/coverage/template", params={"period": "2014Q4"})).content
    r = await client.post("/api/imports/coverage-reports", params={"period": "2014Q3"},
                          files={"file": ("报送.xlsx", q4, XLSX)}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 422 and r.json()["error"]["field"] == "period"
    r = await client.post("/api/imports/coverage-reports", params={"period": "2014Q3"},
                          files={"file": ("报送.csv", b"a,b", "text/csv")},
                          headers={"X-CSRF-Token": csrf})
    assert r.status_code == 422
    # The admin confirms: the organization gets its own party organization.
    client.cookies.clear()
    csrf = await login(client, "boss")
    h = {"X-CSRF-Token": csrf}
    before = (await client.get("/api/coverage/stats", params={"period": "2014Q3"})).json()
    r = await client.post(f"/api/coverage/reports/{report.id}/confirm", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "confirmed"
    after = (await client.get("/api/coverage/stats", params={"period": "2014Q3"})).json()
    assert after["figures"]["total"]["own"] == before["figures"]["total"]["own"] + 1
    assert await PartyOrg.filter(name="组织E4党支部").exists()
    # Return another report: it lands in the instructor's inbox.
    zhang_report = await CoverageReport.create(
        organization=w["orgs"]["E8"], uscc=w["orgs"]["E8"].uscc, period_code="2014Q3",
        party_members=1, formal_members=1, probationary_members=0, submitted_by=w["people"]["zhang"],
        submitted_at=report.submitted_at)
    r = await client.post(f"/api/coverage/reports/{zhang_report.id}/return", json={}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["field"] == "reason"
    r = await client.post(f"/api/coverage/reports/{zhang_report.id}/return",
                          json={"reason": "走访次数缺失"}, headers=h)
    assert r.status_code == 200
    assert await InboxMessage.filter(user=w["people"]["zhang"], body__contains="走访次数缺失").exists()
    r = await client.get("/api/coverage/compliance", params={"period": "2014Q3"})
    rows = {x["username"]: x for x in r.json()}
    assert rows["zhang"]["reported"] == 1 and rows["zhang"]["rate"] == 50.0


async def test_registry_api_put_and_close(client):
    await _world_and_users()
    csrf = await login(client, "boss")
    h = {"X-CSRF-Token": csrf}
    code = uscc(77, "91520103")
    r = await client.put(f"/api/coverage/organizations/{code}", headers=h, json={
        "name": "新公司", "kind": "非公企业", "community": "520103001", "formal_members": 3,
        "instructors": "li"})
    assert r.status_code == 200 and r.json()["action"] == "create", r.text
    r = await client.put(f"/api/coverage/organizations/{code}", headers=h, json={
        "name": "新公司", "kind": "非公企业", "community": "000000"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "社区代码"
    r = await client.put(f"/api/coverage/organizations/{code[:17]}0", headers=h, json={
        "name": "x", "kind": "非公企业", "community": "520103001"})
    assert r.status_code == 422 and "校验位" in r.json()["error"]["message"]
    r = await client.put(f"/api/coverage/organizations/{code}", headers=h, json={
        "name": "新公司", "kind": "非公企业", "community": "520103001", "employees": -1})
    assert r.status_code == 400 and r.json()["error"]["field"] == "employees"
    r = await client.post(f"/api/coverage/organizations/{code}/close", headers=h,
                          json={"closed_on": "2014-10-01", "status": "moved"})
    assert r.status_code == 200 and r.json()["status"] == "moved"
    org = await Organization.get(uscc=code)
    assert org.closed_on.isoformat() == "2014-10-01"
    r = await client.post(f"/api/coverage/organizations/{code}/close", headers=h,
                          json={"closed_on": "someday"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "closed_on"


PAGES = {
    "instructor": ["/coverage/", "/coverage/report/{E4}?period=2014Q3", "/"],
    "admin": ["/coverage/stats?period=2014Q3", "/coverage/drilldown?period=2014Q3&figure=org_rate",
              "/coverage/drilldown?period=2014Q3&figure=instructors",
              "/coverage/registry", "/coverage/registry?q=组织", "/coverage/review?period=2014Q3",
              "/coverage/compliance?period=2014Q3", "/", "/coverage/stats?period=2014Q2&kind=social"],
    "leader": ["/coverage/stats", "/coverage/compliance", "/"],
    "unit_officer": ["/coverage/stats", "/coverage/drilldown?figure=should_establish", "/"],
}
USERS = {"instructor": "zhang", "admin": "boss", "leader": "lead", "unit_officer": "nanming"}


@pytest.mark.parametrize("role", sorted(PAGES))
async def test_pages_render_for_each_role(client, role):
    w = await _world_and_users()
    await login(client, USERS[role])
    for path in PAGES[role]:
        path = path.replace("{E4}", w["orgs"]["E4"].uscc)
        r = await client.get(path, headers={"accept": "text/html"})
        assert r.status_code == 200, (path, r.status_code, r.text[:500])
        text = re.sub(r"<style.*?</style>|<[^>]*>", " ", r.text, flags=re.S)
        assert not re.search(r"coverage\.[a-z_]+\.", text), (path, re.findall(r"coverage\.\S+", text))
    r = await client.get("/", headers={"accept": "text/html"})
    if role == "instructor":
        assert "我的报送率" in r.text and 'href="/coverage/"' in r.text
    else:
        assert "组织覆盖率" in r.text and 'class="bar-row"' in r.text


async def test_every_coverage_route_answers_without_a_server_error(client):
    """Each role on each route with placeholder values: refused or answered, never a 500."""
    from tests.core.test_security import _concrete, _handlers

    await _world_and_users()
    for username in USERS.values():
        client.cookies.clear()
        csrf = await login(client, username)
        for path, method, _ in _handlers(client.app):
            if "coverage" not in path:
                continue
            r = await client.request(method, _concrete(path), headers={
                "X-CSRF-Token": csrf, "accept": "application/json"})
            assert r.status_code < 500, (username, method, path, r.text[:300])


async def test_pages_in_english(client):
    w = await _world_and_users()
    await login(client, "boss")
    client.cookies.set("lang", "en")
    r = await client.get("/coverage/stats?period=2014Q3", headers={"accept": "text/html"})
    assert r.status_code == 200
    assert "Organization coverage" in r.text and "Work coverage" in r.text
    r = await client.get("/api/coverage/stats", params={"period": "2014Q3", "unit": "x"})
    assert r.status_code == 404 and r.json()["error"]["field"] == "unit"
    client.cookies.clear()
    csrf = await login(client, "zhang")
    client.cookies.set("lang", "en")
    r = await client.post("/api/coverage/reports", headers={"X-CSRF-Token": csrf}, json={
        "period": "2014Q3", "uscc": w["orgs"]["E4"].uscc, "party_members": 3,
        "formal_members": 3, "probationary_members": 1})
    assert r.status_code == 422 and "probationary members were counted as formal" in r.text
    assert r.json()["error"]["message"].startswith("Formal members: ")
    r = await client.post("/api/coverage/reports", headers={"X-CSRF-Token": csrf}, json={
        "period": "2014Q3", "uscc": w["orgs"]["E4"].uscc, "formal_members": 3,
        "probationary_members": 1})
    assert r.json()["error"]["message"] == "Party members: required"
