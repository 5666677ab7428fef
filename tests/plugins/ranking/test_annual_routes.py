"""The year's pages through the whole app: year result, 公示 public or not, self-assessment,
review and panel ballots with their refusals."""

from __future__ import annotations

import datetime as dt

import pytest

from core import clock
from plugins.ranking import annual, panel_rating, selfassess
from plugins.ranking import annual_models as am
from tests.conftest import login, make_user
from tests.plugins.ranking.test_annual import panel, publish_periods, setup

HTML = {"accept": "text/html"}


@pytest.fixture
def settings_extra():
    return "[ranking]\npublic_notice = true\n"


async def year(client):
    await setup(client.app.state.host)
    await make_user("admin1", "admin")
    await publish_periods()
    await panel([(90, 70, 80, 50), (95, 75, 80, 60), (99, 100, 80, 70)])


async def test_year_pages_publish_and_public_notice(client):
    await year(client)
    csrf = await login(client, "admin1")
    r = await client.post("/ranking/annual/compute", data={"_csrf": csrf, "year": "2014",
                                                           "group": "districts"})
    assert r.status_code in (302, 303), r.text
    result = await am.AnnualResult.get()
    r = await client.get(f"/ranking/annual/{result.id}", headers=HTML)
    assert r.status_code == 200 and "99.50" in r.text and "优秀" in r.text and "按分数段" in r.text
    # A draft has no public notice.
    r = await client.get(f"/ranking/annual/{result.id}/notice", headers=HTML)
    assert r.status_code == 404
    r = await client.post(f"/ranking/annual/{result.id}/publish", data={"_csrf": csrf})
    assert r.status_code in (302, 303)
    r = await client.get(f"/ranking/annual/{result.id}/verify", headers=HTML)
    assert "校验一致" in r.text
    r = await client.get(f"/ranking/annual/{result.id}/export/summary")
    assert r.status_code == 200 and r.content[:2] == b"PK"
    await client.post("/logout", data={"_csrf": csrf})
    client.cookies.clear()
    r = await client.get(f"/ranking/annual/{result.id}/notice", headers=HTML)
    assert r.status_code == 200 and "2014年度考核结果公示" in r.text and "花溪区" in r.text
    assert "<script>" not in r.text.split("</head>")[-1]  # no inline script (CSP)


async def test_notice_needs_an_account_unless_allowed(client, monkeypatch):
    await year(client)
    result = await annual.compute("2014", "districts", "test")
    await annual.publish(result.id, "test")
    from plugins.ranking import config

    monkeypatch.setattr(config.of(client.app.state.settings), "public_notice", False)
    r = await client.get(f"/ranking/annual/{result.id}/notice", headers=HTML)
    assert r.status_code == 404
    await login(client, "admin1")
    r = await client.get(f"/ranking/annual/{result.id}/notice", headers=HTML)
    assert r.status_code == 200


async def test_self_assessment_review_and_panel_pages(client, tmp_path):
    await setup(client.app.state.host)
    await make_user("nm", "unit_officer", unit_code="520102")
    await make_user("mzj", "unit_officer", unit_code="520103")
    await selfassess.assign_reviewer("mzj", ["sat"], "市民政局", actor="test")
    clock.travel(dt.date(2014, 4, 10))
    try:
        csrf = await login(client, "nm")
        r = await client.get("/ranking/self?period=2014Q1", headers=HTML)
        assert r.status_code == 200 and "南明区" in r.text and "群众满意度" in r.text
        r = await client.post("/ranking/self", data={
            "_csrf": csrf, "period": "2014Q1", "unit": "520102", "indicator": "sat",
            "value": "83", "explanation": "入户调查"},
            files={"evidence": ("报告.pdf", b"%PDF-1.4 x", "application/pdf")})
        assert r.status_code in (302, 303), r.text
        # Bad input comes back naming the field, nothing saved.
        r = await client.post("/ranking/self", data={
            "_csrf": csrf, "period": "2014Q1", "unit": "520102", "indicator": "cases",
            "value": "3", "explanation": "x"}, files={"evidence": ("a.txt", b"t", "text/plain")},
            headers=HTML)
        assert r.status_code == 422 and "所选指标不是自评指标" in r.text
        r = await client.get("/ranking/self?period=2014Q1", headers=HTML)
        assert "已自评，待审核" in r.text and "自评（待审核）" in r.text
        client.cookies.clear()
        csrf = await login(client, "mzj")
        r = await client.get("/ranking/review", headers=HTML)
        sa = await am.SelfAssessment.get()
        assert "入户调查" in r.text and f"/ranking/evidence/{sa.id}/" in r.text
        r = await client.get(f"/ranking/evidence/{sa.id}/{sa.evidence[0]['sha256']}")
        assert r.content == b"%PDF-1.4 x"
        r = await client.post(f"/ranking/review/{sa.id}", data={
            "_csrf": csrf, "decision": "change", "value": "80", "reason": ""}, headers=HTML)
        assert r.status_code == 422 and "reason" in r.text
        r = await client.post(f"/ranking/review/{sa.id}", data={
            "_csrf": csrf, "decision": "change", "value": "80", "reason": "复核样本不足"})
        assert r.status_code in (302, 303)
        assert (await am.SelfAssessment.get()).status == "changed"
    finally:
        clock.travel(None)
    # Panel: a rater with an account, then an outside rater with a one-time code.
    _, _, a = await annual.current_annual()
    await make_user("deputy", "leader")
    rnd, codes = await panel_rating.open_round(a.panel("deputies"), "2014", "districts",
                                               ["deputy"], codes=1)
    client.cookies.clear()
    csrf = await login(client, "deputy")
    r = await client.post(f"/ranking/panels/{rnd.id}", data={"_csrf": csrf, "score_520102": "90"})
    assert r.status_code in (302, 303), r.text
    r = await client.post(f"/ranking/panels/{rnd.id}", data={"_csrf": csrf, "score_520102": "91"},
                          headers=HTML)
    assert r.status_code == 409 and "已经评过分" in r.text
    client.cookies.clear()
    r = await client.post(f"/ranking/rate/{rnd.id}", data={"code": codes[0], "score_520103": "77"},
                          headers=HTML)
    assert r.status_code == 200 and "感谢" in r.text
    r = await client.post(f"/ranking/rate/{rnd.id}", data={"code": codes[0], "score_520103": "70"},
                          headers=HTML)
    assert r.status_code == 409
    assert await am.Ballot.filter(round=rnd).count() == 2


async def test_objection_during_the_notice(client):
    from tests.plugins.ranking.helpers import apply, definition
    from tests.plugins.ranking.test_annual import YEAR, facts_plugin

    host = client.app.state.host
    if "facts" not in host.plugins:
        host.register("facts", facts_plugin())
    await apply(host, definition(extra=YEAR.replace("objection_days = 0", "objection_days = 5")))
    await make_user("admin1", "admin")
    await make_user("nm", "unit_officer", unit_code="520102")
    await publish_periods()
    await panel([(90, 70, 80, 50), (95, 75, 80, 60), (99, 100, 80, 70)])
    result = await annual.publish((await annual.compute("2014", "districts", "test")).id, "test")
    assert result.status == "objection" and result.objection_until is not None
    csrf = await login(client, "nm")
    r = await client.get(f"/ranking/annual/{result.id}", headers=HTML)
    assert 'id="object-form"' in r.text
    r = await client.post(f"/ranking/annual/{result.id}/objections", headers=HTML,
                          data={"_csrf": csrf, "unit": "520103", "reason": "别人的"})
    assert r.status_code == 403 and "只能对本单位提出异议" in r.text
    r = await client.post(f"/ranking/annual/{result.id}/objections", headers=HTML,
                          data={"_csrf": csrf, "unit": "520102", "reason": " "})
    assert r.status_code == 422 and "reason" in r.text
    r = await client.post(f"/ranking/annual/{result.id}/objections",
                          data={"_csrf": csrf, "unit": "520102", "reason": "测评票数有误"})
    assert r.status_code in (302, 303)
    obj = await am.AnnualObjection.get()
    client.cookies.clear()
    csrf = await login(client, "admin1")
    r = await client.post(f"/ranking/annual/objections/{obj.id}/resolve",
                          data={"_csrf": csrf, "decision": "rejected", "response": "经核实无误"})
    assert r.status_code in (302, 303)
    r = await client.get(f"/ranking/annual/{result.id}", headers=HTML)
    assert "测评票数有误" in r.text and "不予采纳" in r.text
    # The window passes with no open objection: the daily job makes the year final.
    clock.travel(result.objection_until + dt.timedelta(days=1))
    try:
        assert await annual.finalize_due() == [result.id]
    finally:
        clock.travel(None)
