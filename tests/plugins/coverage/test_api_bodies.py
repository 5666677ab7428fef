"""The coverage API's typed bodies: a malformed body is refused (400) naming the field in the
caller's language before anything is saved, and the long lists answer one page at a time
with the whole count in headers."""

import pytest

from core.orgs import OrgUnit
from plugins.coverage import compliance, stats
from plugins.coverage.models import CoverageReport, Organization
from tests.conftest import login, make_user
from tests.plugins.coverage.world import build_world, uscc

GOOD_REPORT = {"period": "2014Q3", "party_members": 4, "formal_members": 3,
               "probationary_members": 1}


async def _admin(client) -> dict:
    w = await build_world()
    await make_user("boss", "admin")
    w["csrf"] = await login(client, "boss")
    return w


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"uscc": 5}, "uscc", "应为文本，收到的是整数"),
    ({"formal_members": "3.5"}, "formal_members", "应为整数，收到的是文本"),
    ({"uscc": "9" * 19}, "uscc", "最多 18 个字符"),
    ({"remarks": "备" * 501}, "remarks", "最多 500 个字符"),
    ({"visits": -1}, "visits", "不能小于 0"),
    ({"change_date": "someday"}, "change_date", "应为日期，格式 yyyy-mm-dd"),
    ({"evil": 1}, "evil", "不认识的字段 evil"),
    ({"period": None}, "period", "应为文本"),
])
async def test_a_malformed_report_is_refused_naming_the_field(client, change, field, words):
    w = await build_world()
    csrf = await login(client, "zhang")
    body = {**GOOD_REPORT, "uscc": w["orgs"]["E4"].uscc, **change}
    r = await client.post("/api/coverage/reports", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["field"] == field and words in error["message"], error
    assert not await CoverageReport.exists()


async def test_registry_bodies_are_typed(client):
    w = await _admin(client)
    h = {"X-CSRF-Token": w["csrf"]}
    code = uscc(77, "91520103")
    base = {"name": "新公司", "kind": "非公企业", "community": "520103001"}
    cases = [
        ("put", f"/api/coverage/organizations/{code}", {**base, "name": "名" * 201}, "name",
         "最多 200 个字符"),
        ("put", f"/api/coverage/organizations/{code}", {**base, "demo_site": "maybe"},
         "demo_site", "应为是/否"),
        ("put", f"/api/coverage/organizations/{code}", {**base, "owner": "x"}, "owner",
         "不认识的字段 owner"),
        ("put", f"/api/coverage/organizations/{code}X", base, "uscc", "18"),
        ("post", f"/api/coverage/organizations/{w['orgs']['E5'].uscc}/close",
         {"status": "gone"}, "status", "gone"),
        ("post", f"/api/coverage/organizations/{w['orgs']['E5'].uscc}/close",
         {"reason": ["x"]}, "reason", "应为文本，收到的是列表"),
        ("post", "/api/coverage/missing/1", {}, "decision", "缺少必填字段 decision"),
        ("post", "/api/coverage/reports/1/return", {"reason": "理" * 2001}, "reason",
         "最多 2000 个字符"),
    ]
    for method, path, body, field, words in cases:
        r = await client.request(method, path, json=body, headers=h)
        assert r.status_code == 400, (path, body, r.text)
        error = r.json()["error"]
        assert error["field"] == field and words in error["message"], (path, body, error)
    assert not await Organization.filter(uscc=code).exists()
    assert (await Organization.get(id=w["orgs"]["E5"].id)).status == "active"
    # In English the same refusal speaks English.
    client.cookies.set("lang", "en")
    r = await client.put(f"/api/coverage/organizations/{code}", json={**base, "employees": -1},
                         headers=h)
    assert r.status_code == 400 and r.json()["error"]["field"] == "employees"
    assert "小于" not in r.json()["error"]["message"]
    # A well-formed body still goes through the registry's own checks, then saves.
    client.cookies.set("lang", "zh")
    r = await client.put(f"/api/coverage/organizations/{code}", json={
        **base, "demo_site": True, "valid_from": "2014-01-02", "employees": 12}, headers=h)
    assert r.status_code == 200 and r.json()["action"] == "create", r.text
    org = await Organization.get(uscc=code)
    assert org.demo_site and org.employees == 12 and org.valid_from.isoformat() == "2014-01-02"


async def _pages(client, path: str, params: dict, key: str | None) -> tuple[list, set]:
    """Every page of a list, and the (total, page, size) headers seen."""
    items, headers, page = [], set(), 1
    while True:
        r = await client.get(path, params={**params, "page": page})
        assert r.status_code == 200, r.text
        body = r.json()
        rows = body[key] if key else body
        headers.add(r.headers["X-Total-Count"])
        assert r.headers["X-Page"] == str(page) and r.headers["X-Page-Size"] == str(params["size"])
        items += rows
        if len(rows) < params["size"]:
            return items, headers
        page += 1


async def test_drilldown_is_paged(client):
    w = await _admin(client)
    city = await OrgUnit.get(code="520100")
    whole = await stats.organizations_behind("2014Q3", city, None, "orgs")
    params = {"period": "2014Q3", "unit": "520100", "figure": "org_rate", "tab": "denominator",
              "size": 5}
    items, totals = await _pages(client, "/api/coverage/drilldown", params, "denominator")
    assert totals == {"12"} and len(items) == 12
    assert [o["uscc"] for o in items] == [o["uscc"] for o in whole]
    r = await client.get("/api/coverage/drilldown", params={**params, "page": 3})
    body = r.json()
    assert len(body["denominator"]) == 2 and body["counts"] == {"numerator": 7, "denominator": 12}
    assert body["value"] == 58.33 and body["tabs"] == ["numerator", "denominator"]
    # Past the end: the last page, as the pages do.
    r = await client.get("/api/coverage/drilldown", params={**params, "page": 99})
    assert r.headers["X-Page"] == "3" and len(r.json()["denominator"]) == 2
    # A search narrows the total; the tab counts stay the whole lists.
    r = await client.get("/api/coverage/drilldown", params={**params, "q": w["orgs"]["E4"].uscc})
    assert r.headers["X-Total-Count"] == "1" and r.json()["counts"]["denominator"] == 12
    r = await client.get("/api/coverage/drilldown", params={
        "period": "2014Q3", "unit": "520100", "figure": "instructors", "size": 1})
    assert r.headers["X-Total-Count"] == "2" and len(r.json()["instructors"]) == 1
    assert set(r.json()["instructors"][0]) == {"id", "username", "display_name", "organizations"}
    for bad, field in (({"size": 201}, "size"), ({"page": 0}, "page"), ({"tab": "all"}, "tab")):
        r = await client.get("/api/coverage/drilldown", params={**params, **bad})
        assert r.status_code == 400 and r.json()["error"]["field"] == field, (bad, r.text)


async def test_compliance_is_paged_and_filtered(client):
    await _admin(client)
    for n in range(4):
        await make_user(f"new{n}", "instructor")
    whole = await compliance.by_instructor("2014Q3")
    params = {"period": "2014Q3", "size": 2}
    items, totals = await _pages(client, "/api/coverage/compliance", params, None)
    assert totals == {"7"} and [x["username"] for x in items] == [x["username"] for x in whole]
    assert {x["username"]: (x["assigned"], x["reported"]) for x in items} == {
        x["username"]: (x["assigned"], x["reported"]) for x in whole}
    r = await client.get("/api/coverage/compliance", params={**params, "reporting": "unassigned"})
    unassigned = sorted(x["username"] for x in whole if not x["assigned"])
    assert r.headers["X-Total-Count"] == str(len(unassigned)) and len(unassigned) >= 4
    assert [x["username"] for x in r.json()] == unassigned[:2]
    r = await client.get("/api/coverage/compliance", params={**params, "q": "zha"})
    assert [x["username"] for x in r.json()] == ["zhang"] and r.headers["X-Total-Count"] == "1"
    # The page still filters by the same name.
    r = await client.get("/coverage/compliance", params={"period": "2014Q3",
                                                         "reporting": "unassigned"},
                         headers={"accept": "text/html"})
    assert r.status_code == 200 and "new0" in r.text and "zhang" not in r.text


async def test_organizations_are_paged_and_filtered(client):
    w = await _admin(client)
    everyone = sorted(o.uscc for o in w["orgs"].values())
    items, totals = await _pages(client, "/api/coverage/organizations", {"size": 5}, None)
    assert totals == {"13"} and [o["uscc"] for o in items] == everyone
    r = await client.get("/api/coverage/organizations", params={"size": 5, "page": 7})
    assert r.headers["X-Page"] == "3" and [o["uscc"] for o in r.json()] == everyone[10:]
    # The unit and the search are counted, not only the page cut.
    r = await client.get("/api/coverage/organizations", params={"unit": "520103", "size": 1})
    assert r.headers["X-Total-Count"] == "4" and len(r.json()) == 1
    r = await client.get("/api/coverage/organizations", params={"q": "组织E"})
    assert r.headers["X-Total-Count"] == "9" and r.headers["X-Page-Size"] == "200"
    r = await client.get("/api/coverage/organizations", params={"q": w["orgs"]["S2"].uscc})
    assert [o["uscc"] for o in r.json()] == [w["orgs"]["S2"].uscc]
    r = await client.get("/api/coverage/organizations", params={"size": 201})
    assert r.status_code == 400 and r.json()["error"]["field"] == "size"
    assert r.json()["error"]["message"] == "参数 size 无效：不能大于 200"
    # An instructor counts their assigned organizations only.
    client.cookies.clear()
    await login(client, "zhang")
    r = await client.get("/api/coverage/organizations", params={"size": 1, "page": 2})
    assert r.headers["X-Total-Count"] == "2" and r.headers["X-Page"] == "2"
    assert [o["uscc"] for o in r.json()] == [max(w["orgs"]["E4"].uscc, w["orgs"]["E8"].uscc)]


async def test_reports_are_paged_and_filtered(client):
    from core import clock

    w = await _admin(client)
    keys = ("E1", "E2", "E3", "E4", "S1", "S2", "E7")
    for n, key in enumerate(keys):
        await CoverageReport.create(
            organization=w["orgs"][key], uscc=w["orgs"][key].uscc, period_code="2014Q3",
            party_members=1, formal_members=1, probationary_members=0,
            status="returned" if n % 3 == 0 else "submitted", submitted_at=clock.now())
    org = w["orgs"]["E5"]
    await CoverageReport.create(organization=org, uscc=org.uscc, period_code="2014Q4",
                                party_members=1, formal_members=1, probationary_members=0,
                                submitted_at=clock.now())
    params = {"period": "2014Q3", "size": 3}
    items, totals = await _pages(client, "/api/coverage/reports", params, None)
    assert totals == {"7"} and [x["uscc"] for x in items] == sorted(
        w["orgs"][k].uscc for k in keys)
    r = await client.get("/api/coverage/reports", params={**params, "page": 4})
    assert r.headers["X-Page"] == "3" and len(r.json()) == 1
    r = await client.get("/api/coverage/reports", params={**params, "status": "returned"})
    assert r.headers["X-Total-Count"] == "3" and {x["status"] for x in r.json()} == {"returned"}
    r = await client.get("/api/coverage/reports", params={"period": "2014Q4"})
    assert r.headers["X-Total-Count"] == "1" and r.json()[0]["uscc"] == org.uscc
    r = await client.get("/api/coverage/reports", params={**params, "size": 0})
    assert r.status_code == 400 and r.json()["error"]["field"] == "size"
    assert r.json()["error"]["message"] == "参数 size 无效：不能小于 1"


async def test_schema_declares_the_paging_headers(client):
    spec = (await client.get("/schema/openapi.json")).json()
    for path in ("/api/coverage/drilldown", "/api/coverage/compliance",
                 "/api/coverage/organizations", "/api/coverage/reports"):
        op = spec["paths"][path]["get"]
        assert {"X-Total-Count", "X-Page", "X-Page-Size"} <= set(op["responses"]["200"]["headers"])
        names = {p["name"] for p in op["parameters"]}
        assert {"page", "size"} <= names and not names & {"state", "limit"}
    put = spec["paths"]["/api/coverage/organizations/{uscc}"]["put"]
    uscc_param = next(p for p in put["parameters"] if p["name"] == "uscc")
    assert uscc_param["schema"]["maxLength"] == 18


async def test_missing_organizations_are_paged(client):
    from plugins.coverage.models import MissingOrganization, RegistryImport

    w = await _admin(client)
    done = await RegistryImport.create(filename="名册.xlsx", sha256="0" * 64, full=True)
    orgs = sorted(w["orgs"].values(), key=lambda o: o.id)[:5]
    for org in orgs:
        await MissingOrganization.create(registry_import=done, organization=org)
    decided = await MissingOrganization.create(registry_import=done, organization=orgs[0],
                                               decision="keep")
    items, totals = await _pages(client, "/api/coverage/missing", {"size": 2}, None)
    assert totals == {"5"}  # the decided mark is not waiting
    assert [i["id"] for i in items] == sorted(i["id"] for i in items)
    assert decided.id not in {i["id"] for i in items} and len(items) == 5
    r = await client.get("/api/coverage/missing", params={"size": 201})
    assert r.status_code == 400 and r.json()["error"]["field"] == "size"
