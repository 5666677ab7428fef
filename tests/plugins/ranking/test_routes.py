"""The ranking API and pages through the whole app: roles, errors with fields, uploads."""

from __future__ import annotations

import io
import re

import openpyxl
from python_calamine import CalamineWorkbook

from plugins.ranking import models
from tests.conftest import login, make_user
from tests.plugins.ranking.helpers import STUB_VALUES, apply, definition, scenario_values

SUBSCRIPTION = {"key": "weekly", "title": "周排位", "exporter": "ranking", "group": "districts",
                "period_rule": "fixed:2014", "cron": "0 8 * * 1",
                "recipients": [{"user": "leader1"}]}


async def token(client, username: str) -> dict[str, str]:
    r = await client.post("/api/login", json={"username": username, "password": "password1"})
    assert r.status_code == 201 or r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def world(client):
    await apply(client.app.state.host)
    await make_user("admin1", "admin")
    await make_user("leader1", "leader", email="leader1@example.org")
    await make_user("officer1", "unit_officer", unit_code="520103")
    return await token(client, "admin1")


def api_values() -> list[dict]:
    return [{"unit": u, "indicator": k, "value": v} for (u, k), v in scenario_values().items()]


async def test_api_enter_compute_publish_verify_and_refusals(client):
    admin = await world(client)
    r = await client.put("/api/ranking/values", headers=admin, json={
        "period": "2014", "group": "districts", "values": api_values()})
    assert r.status_code == 200 and r.json()["created"] == 12, r.text
    r = await client.put("/api/ranking/values", headers=admin, json={
        "period": "2014", "group": "districts",
        "values": [{"unit": "520102001", "indicator": "sat", "value": 80}]})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "values_invalid" and err["details"][0]["field"] == "unit"
    r = await client.get("/api/ranking/missing", headers=admin,
                         params={"period": "2014", "group": "districts"})
    assert r.json()["missing_values"] == 0
    r = await client.post("/api/ranking/rankings", headers=admin,
                          json={"period": "2014", "group": "districts"})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    r = await client.get(f"/api/ranking/rankings/{rid}", headers=admin)
    rows = r.json()["rows"]
    assert [(x["unit_code"], x["rank"], x["total"]) for x in rows] == [
        ("520102", 1, "100.00"), ("520111", 2, "82.00"), ("520103", 3, "79.00"),
        ("520112", 4, "68.50")]
    leader = await token(client, "leader1")
    assert (await client.get(f"/api/ranking/rankings/{rid}", headers=leader)).status_code == 404
    r = await client.post(f"/api/ranking/rankings/{rid}/publish", headers=leader)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = await client.post(f"/api/ranking/rankings/{rid}/publish", headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "final"
    # Publishing put the workbook in the report archive, where the leader finds it.
    r = await client.get("/api/archive", headers=leader)
    [report] = [x for x in r.json() if x["exporter"] == "ranking"]
    assert (report["period"], report["group"]) == ("2014", "districts")
    r = await client.get(report["download"], headers=leader)
    assert r.status_code == 200
    archived = CalamineWorkbook.from_filelike(io.BytesIO(r.content))
    assert archived.get_sheet_by_name("排位汇总").to_python()[3][1:4] == ["520102", "南明区", 100.0]
    r = await client.post(f"/api/ranking/rankings/{rid}/publish", headers=admin)
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_published"
    r = await client.put("/api/ranking/values", headers=admin, json={
        "period": "2014", "group": "districts",
        "values": [{"unit": "520103", "indicator": "sat", "value": 99}]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "ranking_published"
    r = await client.get(f"/api/ranking/rankings/{rid}/verify", headers=leader)
    assert r.status_code == 200 and r.json()["identical"] is True
    STUB_VALUES["520111"] = 50
    r = await client.get(f"/api/ranking/rankings/{rid}/verify", headers=admin)
    changed = r.json()["changed_inputs"]
    assert [(c["unit_code"], c["indicator"], c["frozen"], c["current"]) for c in changed] == [
        ("520111", "rate", "95", "50")]
    r = await client.get(f"/api/ranking/rankings/{rid}/units/520103", headers=leader)
    detail = r.json()
    gov = [a for a in detail["aspects"] if a["key"] == "gov"][0]
    rate = [i for i in gov["indicators"] if i["key"] == "rate"][0]
    assert (rate["value"], rate["score"], rate["source"]) == ("90", "90.00", "plugin:stub.rate")
    assert gov["score"] == "70.00"
    assert rate["contribution"] == "18.00"  # 90 × 50 % × 40 %
    r = await client.get(f"/ranking/rankings/{rid}/export", headers=leader)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.open")
    book = CalamineWorkbook.from_filelike(io.BytesIO(r.content))
    assert book.get_sheet_by_name("排位汇总").to_python()[3][1] == "520102"


async def test_unit_officer_objects_for_own_unit_only(client):
    admin = await world(client)
    await apply(client.app.state.host, definition(objection_days=5))
    await client.put("/api/ranking/values", headers=admin, json={
        "period": "2014", "group": "districts", "values": api_values()})
    rid = (await client.post("/api/ranking/rankings", headers=admin,
                             json={"period": "2014", "group": "districts"})).json()["id"]
    r = await client.post(f"/api/ranking/rankings/{rid}/publish", headers=admin)
    assert r.json()["status"] == "objection"
    officer = await token(client, "officer1")
    r = await client.post(f"/api/ranking/rankings/{rid}/objections", headers=officer,
                          json={"unit": "520111", "reason": "不是我的单位"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "out_of_scope"
    r = await client.post(f"/api/ranking/rankings/{rid}/objections", headers=officer,
                          json={"unit": "520103", "reason": "样本有误", "indicator": "sat"})
    assert r.status_code == 201, r.text
    oid = r.json()["id"]
    r = await client.get(f"/api/ranking/rankings/{rid}/units/520111", headers=officer)
    assert r.status_code == 404
    r = await client.post(f"/api/ranking/objections/{oid}/resolve", headers=officer,
                          json={"decision": "upheld", "response": "x"})
    assert r.status_code == 403
    r = await client.post(f"/api/ranking/objections/{oid}/resolve", headers=admin,
                          json={"decision": "maybe", "response": "x"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "decision"
    r = await client.post(f"/api/ranking/objections/{oid}/resolve", headers=admin,
                          json={"decision": "rejected", "response": "数据经复核无误"})
    assert r.json()["status"] == "rejected"
    r = await client.get(f"/api/ranking/rankings/{rid}/objections", headers=officer)
    assert [o["status"] for o in r.json()] == ["rejected"]


async def test_pages_render_for_each_role(client):
    admin = await world(client)
    await client.put("/api/ranking/values", headers=admin, json={
        "period": "2014", "group": "districts", "values": api_values()})
    rid = (await client.post("/api/ranking/rankings", headers=admin,
                             json={"period": "2014", "group": "districts"})).json()["id"]
    await client.post(f"/api/ranking/rankings/{rid}/publish", headers=admin)
    html = {"accept": "text/html"}
    await login(client, "admin1")
    for path in ("/ranking?period=2014&group=districts", "/ranking/values?period=2014",
                 f"/ranking/rankings/{rid}", f"/ranking/rankings/{rid}/units/520112",
                 f"/ranking/rankings/{rid}/verify", "/ranking/subscriptions", "/"):
        r = await client.get(path, headers=html)
        assert r.status_code == 200, (path, r.text[:300])
    r = await client.get(f"/ranking/rankings/{rid}", headers=html)
    assert "ranking-table" in r.text and "乌当区" in r.text and 'class="bar-row"' in r.text
    r = await client.get(f"/ranking/rankings/{rid}/units/520112", headers=html)
    assert "插件提供：整改按期率（测试）" in r.text and "手工录入" in r.text
    r = await client.get("/", headers=html)
    assert 'id="ranking-panel"' in r.text and "乌当区" in r.text
    # The panel's chart shows the published totals (a dict's `.values` once hid them).
    ranking = (await client.get(f"/api/ranking/rankings/{rid}", headers=admin)).json()
    top = max(float(row["total"]) for row in ranking["rows"])
    panel = r.text.split('id="ranking-panel"', 1)[1]
    assert f"{top:.2f}" in panel.split("</figure>", 1)[0]
    client.cookies.clear()
    await login(client, "leader1")
    r = await client.get("/ranking", headers=html)
    assert r.status_code == 200 and f"/ranking/rankings/{rid}" in r.text
    r = await client.get("/ranking/values", headers={**html, "accept": "application/json"})
    assert r.status_code == 403


async def test_values_grid_saves_all_or_nothing(client):
    await world(client)
    csrf = await login(client, "admin1")
    form = {"_csrf": csrf, "period": "2014", "group": "districts", "v:520102:sat": "83.87",
            "o:520102:sat": "", "v:520103:sat": "abc", "o:520103:sat": ""}
    r = await client.post("/ranking/values", data=form, headers={"accept": "text/html"})
    assert r.status_code == 422 and "应为数字，实际为“abc”" in r.text
    assert await models.IndicatorValue.all().count() == 0
    form["v:520103:sat"] = "70"
    r = await client.post("/ranking/values", data=form)
    assert r.status_code in (302, 303) and "msg=" in r.headers["location"]
    assert {v.unit_code for v in await models.IndicatorValue.all()} == {"520102", "520103"}
    r = await client.get("/ranking/values?period=2014&group=districts",
                         headers={"accept": "text/html"})
    assert 'value="83.87"' in r.text


async def test_template_upload_preview_and_confirm(client):
    await world(client)
    csrf = await login(client, "admin1")
    r = await client.get("/imports/ranking-values/template?period=2014&group=districts")
    assert r.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    ws = wb["指标数据"]
    header = [c.value for c in ws[3]]
    assert header[:2] == ["单位代码", "单位名称"] and "群众满意度" in header
    col = {name: i + 1 for i, name in enumerate(header)}
    codes = {ws.cell(row, 1).value: row for row in range(4, ws.max_row + 1)}
    assert set(codes) == {"520102", "520103", "520111", "520112"}
    ws.cell(codes["520102"], col["群众满意度"]).value = 83.87
    ws.cell(codes["520103"], col["安全感"]).value = "很好"
    ws.cell(codes["520111"], col["案件数"]).value = 12
    buf = io.BytesIO()
    wb.save(buf)
    files = {"file": ("values.xlsx", buf.getvalue(), "application/octet-stream")}
    r = await client.post("/imports/ranking-values", data={"_csrf": csrf, "period": "2014",
                                                          "group": "districts"}, files=files)
    assert r.status_code == 200 and "应为数字，实际为“很好”" in r.text
    assert 'id="confirm-form"' not in r.text  # errors: nothing can be confirmed
    marked_path = r.text.split('id="download-marked" href="')[1].split('"')[0]
    marked = await client.get(marked_path)
    assert marked.status_code == 200
    mb = openpyxl.load_workbook(io.BytesIO(marked.content))["指标数据"]
    assert mb.cell(codes["520103"], col["安全感"]).comment is not None

    ws.cell(codes["520103"], col["安全感"]).value = 85
    buf = io.BytesIO()
    wb.save(buf)
    files = {"file": ("values.xlsx", buf.getvalue(), "application/octet-stream")}
    r = await client.post("/imports/ranking-values", data={"_csrf": csrf, "period": "2014",
                                                          "group": "districts"}, files=files)
    assert r.status_code == 200 and 'id="confirm-form"' in r.text
    assert await models.IndicatorValue.all().count() == 0  # nothing before confirming
    pending = r.text.split('name="token" value="')[1].split('"')[0]
    r = await client.post("/imports/ranking-values/confirm", data={"_csrf": csrf, "token": pending})
    assert r.status_code in (302, 303), r.text
    stored = {(v.unit_code, v.indicator): str(v.value) for v in await models.IndicatorValue.all()}
    assert stored.keys() == {("520102", "sat"), ("520103", "sec"), ("520111", "cases")}
    assert all(v.origin == "upload" for v in await models.IndicatorValue.all())
    r = await client.post("/imports/ranking-values/confirm", data={"_csrf": csrf, "token": pending})
    assert r.status_code == 409  # a preview is confirmed once


async def test_subscription_api_refuses_bad_fields_and_runs(client):
    admin = await world(client)
    r = await client.post("/api/ranking/subscriptions", headers=admin,
                          json={**SUBSCRIPTION, "cron": "61 8 * * *"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "cron"
    r = await client.post("/api/ranking/subscriptions", headers=admin,
                          json={**SUBSCRIPTION, "exporter": "coverage-nothing"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "exporter"
    r = await client.post("/api/ranking/subscriptions", headers=admin, json=SUBSCRIPTION)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    r = await client.get(f"/api/ranking/subscriptions/{sid}/dry-run", headers=admin)
    assert r.json()["recipients"][0]["address"] == "leader1@example.org"
    r = await client.post(f"/api/ranking/subscriptions/{sid}/run", headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "failed"  # nothing published yet
    assert "no published ranking" in r.json()["error"]
    r = await client.get(f"/api/ranking/subscriptions/{sid}/deliveries", headers=admin)
    assert len(r.json()) == 1
    csrf = await login(client, "admin1")
    r = await client.post("/ranking/subscriptions", data={
        "_csrf": csrf, "key": "bad", "title": "坏的", "exporter": "ranking", "group": "districts",
        "cron": "0 8 * *", "recipients": "leader1"}, headers={"accept": "text/html"})
    # Refused on the subscription form, the message beside the time rule in Chinese.
    assert r.status_code == 422 and 'data-field="cron"' in r.text and "不是有效的时间规则" in r.text
    r = await client.get(f"/ranking/subscriptions/{sid}", headers={"accept": "text/html"})
    assert r.status_code == 200 and "leader1@example.org" in r.text


async def test_pages_without_a_scheme_say_so(client):
    await make_user("admin1", "admin")
    await login(client, "admin1")
    for path in ("/ranking", "/ranking/values", "/ranking/subscriptions", "/"):
        r = await client.get(path, headers={"accept": "text/html"})
        assert r.status_code == 200, (path, r.text[:300])
    r = await client.get("/ranking/values", headers={"accept": "text/html"})
    assert 'id="no-scheme"' in r.text


async def test_publishing_with_missing_values_needs_a_confirmation_naming_them(client):
    """The plugin-sourced value of one district is missing (the source has no data): the
    page shows it, publishing is refused naming it until confirmed (page and API)."""
    admin = await world(client)
    values = api_values()
    STUB_VALUES.pop("520111")  # the plugin has no value for 花溪区
    r = await client.put("/api/ranking/values", headers=admin, json={
        "period": "2014", "group": "districts", "values": values})
    assert r.status_code == 200, r.text
    r = await client.get("/api/ranking/missing", headers=admin,
                         params={"period": "2014", "group": "districts"})
    assert r.json()["missing_values"] == 1
    assert r.json()["missing"][0]["indicators"][0]["source"] == "plugin:stub.rate"
    r = await client.post("/api/ranking/rankings", headers=admin,
                          json={"period": "2014", "group": "districts"})
    rid = r.json()["id"]

    r = await client.post(f"/api/ranking/rankings/{rid}/publish", headers=admin)
    assert r.status_code == 409, r.text
    err = r.json()["error"]
    assert err["code"] == "missing_values" and err["field"] == "confirm_missing"
    assert "1 missing values, scored 0" in err["message"]
    assert "整改按期率 (plugin:stub.rate): 花溪区" in err["message"]
    [entry] = err["details"]["missing"]
    assert entry["units"] == [{"unit_code": "520111", "unit_name": "花溪区"}]
    assert (await models.Ranking.get(id=rid)).status == "draft"

    # The page names the missing value and asks for the confirmation on the publish form.
    csrf = await login(client, "admin1")
    page = await client.get(f"/ranking/rankings/{rid}?step=publish")
    assert 'id="missing-values"' in page.text and "整改按期率：花溪区" in page.text
    assert 'name="confirm_missing"' in page.text and "确认按“计0分”发布" in page.text
    # The publish button leads to a confirmation step; a post without it publishes nothing.
    r = await client.post(f"/ranking/rankings/{rid}/publish", data={"_csrf": csrf})
    assert r.status_code in (302, 303) and "step=publish" in r.headers["location"]
    step = await client.get(f"/ranking/rankings/{rid}?step=publish")
    assert 'id="publish-step"' in step.text and "发布后排位不能再修改" in step.text
    r = await client.post(f"/ranking/rankings/{rid}/publish", data={"_csrf": csrf, "confirm": "1"})
    assert r.status_code == 409 and "花溪区" in r.text
    assert (await models.Ranking.get(id=rid)).status == "draft"
    r = await client.post(f"/ranking/rankings/{rid}/publish",
                          data={"_csrf": csrf, "confirm": "1", "confirm_missing": "1"})
    assert r.status_code in (302, 303), r.text
    ranking = await models.Ranking.get(id=rid)
    assert ranking.status == "final"
    # Still visible once published.
    page = await client.get(f"/ranking/rankings/{rid}")
    assert "整改按期率：花溪区" in page.text and 'name="confirm_missing"' not in page.text


async def test_api_publish_confirmed_and_nothing_missing_needs_no_confirmation(client):
    admin = await world(client)
    values = api_values()
    STUB_VALUES.pop("520111")
    await client.put("/api/ranking/values", headers=admin, json={
        "period": "2014", "group": "districts", "values": values})
    rid = (await client.post("/api/ranking/rankings", headers=admin,
                             json={"period": "2014", "group": "districts"})).json()["id"]
    r = await client.post(f"/api/ranking/rankings/{rid}/publish?confirm_missing=true",
                          headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "final", r.text
    from core.audit import AuditEntry

    entry = await AuditEntry.get(action="ranking.publish", object_id=str(rid))
    assert "花溪区" in entry.after["missing_confirmed"]


async def test_values_grid_refusal_marks_the_cell_in_chinese(client):
    """A bad value in the grid: the grid again with what was typed, the cell's problem in
    Chinese beside it, a summary in Chinese and nothing saved."""
    await world(client)
    csrf = await login(client, "admin1")
    html = {"accept": "text/html"}
    grid = (await client.get("/ranking/values?period=2014&group=districts", headers=html)).text
    cells = re.findall(r'name="(v:[^"]+)" value="([^"]*)"', grid)
    assert cells
    data = {"_csrf": csrf, "period": "2014", "group": "districts"}
    for name, value in cells:
        data[name], data["o:" + name[2:]] = value, value
    bad = cells[0][0]
    data[bad] = "abc"
    r = await client.post("/ranking/values", data=data, headers=html)
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert "1 个值有误，全部未保存" in r.text and "values have errors" not in r.text
    assert f'name="{bad}" value="abc"' in r.text and "实际为“abc”" in r.text
    assert await models.IndicatorValue.all().count() == 0
