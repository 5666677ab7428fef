"""The periods and unit tree pages: adding, closing and reopening periods after a
confirmation, adding units under the right parent; bad input named beside its field; every
change in the audit trail."""

from __future__ import annotations

from core import assessments, audit
from core.audit import AuditEntry
from core.orgs import OrgUnit, Period
from core.plugins import get_host
from tests.conftest import login, make_user, seed_units


async def _admin(client) -> str:
    await seed_units()
    await make_user("p_admin", "admin")
    return await login(client, "p_admin")


async def test_add_a_period_and_refuse_bad_or_existing_ones(client):
    csrf = await _admin(client)
    r = await client.post("/periods", data={"_csrf": csrf, "year": "2015", "part": "Q2"})
    assert r.status_code in (302, 303)
    period = await Period.get(code="2015Q2")
    assert (period.kind, period.start.isoformat(), period.status) == ("quarter", "2015-04-01",
                                                                      "open")
    entry = await AuditEntry.filter(action="period.create", object_id="2015Q2").first()
    assert entry and entry.after["status"] == "open"
    page = (await client.get(r.headers["location"])).text
    assert "已新增考核期：2015年第二季度" in page
    r = await client.post("/periods", data={"_csrf": csrf, "year": "15", "part": "Q2"})
    assert r.status_code == 422
    assert 'id="err-year"' in r.text and "年份应为 2000 至 2099 之间的四位数字，“15”不是" in r.text
    r = await client.post("/periods", data={"_csrf": csrf, "year": "2015", "part": "Q9"})
    assert r.status_code == 422 and 'id="err-part"' in r.text
    r = await client.post("/periods", data={"_csrf": csrf, "year": "2015", "part": "Q2"})
    assert r.status_code == 422 and "考核期“2015年第二季度”已经存在" in r.text
    assert await Period.filter(code__startswith="2015").count() == 1


async def test_close_needs_the_confirmation_and_reopen_undoes_it(client):
    csrf = await _admin(client)
    page = (await client.get("/periods/2014/close")).text
    assert "关闭考核期：2014年" in page and 'id="period-not-over"' not in page
    await client.post("/periods", data={"_csrf": csrf, "year": "2099", "part": "year"})
    page = (await client.get("/periods/2099/close")).text
    assert 'id="period-not-over"' in page and "本期尚未结束（截止 2099-12-31）" in page
    r = await client.post("/periods/2014/close", data={"_csrf": csrf})
    assert r.status_code == 422 and 'id="err-confirm"' in r.text
    assert (await Period.get(code="2014")).status == "open"
    r = await client.post("/periods/2014/close", data={"_csrf": csrf, "confirm": "1",
                                                       "reason": "年度结果已出"})
    assert r.status_code in (302, 303)
    period = await Period.get(code="2014")
    assert period.status == "closed" and period.closed_at is not None
    entry = await AuditEntry.filter(action="period.close", object_id="2014").first()
    assert entry.before["status"] == "open" and entry.reason == "年度结果已出"
    # Closing twice is refused with the period's name, not a crash.
    r = await client.get("/periods/2014/close")
    assert r.status_code == 409 and "考核期“2014年”已经关闭" in r.text
    r = await client.post("/periods/2014/reopen", data={"_csrf": csrf, "confirm": "1"})
    assert r.status_code in (302, 303)
    assert (await Period.get(code="2014")).status == "open"
    assert await AuditEntry.filter(action="period.reopen", object_id="2014").exists()
    assert (await client.get("/periods/2098/close")).status_code == 404
    assert (await client.get("/periods/2014/delete")).status_code == 404


DEFINITION = """[assessment]
slug = "p"
title = "考核期"
year = 2014
[[periods]]
code = "2014Q1"
{extra}
"""


async def test_applying_a_definition_again_keeps_a_period_closed_on_the_page(client):
    csrf = await _admin(client)
    host = get_host()
    await assessments.apply(DEFINITION.format(extra=""), host)
    await client.post("/periods/2014Q1/close", data={"_csrf": csrf, "confirm": "1"})
    # Another change of the file, which still lists 2014Q1 as open: the page's close stands.
    await assessments.apply(DEFINITION.format(extra='[[periods]]\ncode = "2014Q2"'), host)
    assert (await Period.get(code="2014Q1")).status == "closed"
    # A file that itself changes the status is followed, and the change is audited.
    await assessments.apply(DEFINITION.format(extra='status = "closed"'), host)
    await client.post("/periods/2014Q1/reopen", data={"_csrf": csrf, "confirm": "1"})
    await assessments.apply(DEFINITION.format(extra='status = "closed"\n[[periods]]\n'
                                                    'code = "2014Q3"'), host)
    assert (await Period.get(code="2014Q1")).status == "open"  # the file did not change it
    await assessments.apply(DEFINITION.format(extra=""), host)
    assert (await Period.get(code="2014Q1")).status == "open"
    await assessments.apply(DEFINITION.format(extra='status = "closed"'), host)
    assert (await Period.get(code="2014Q1")).status == "closed"
    entry = await AuditEntry.filter(action="period.close", object_id="2014Q1").order_by(
        "-id").first()
    assert audit.reason_text(entry.reason, "en") == "set by the assessment definition"


async def test_add_units_under_the_right_parent(client):
    csrf = await _admin(client)
    page = (await client.get("/units?unit=520102")).text
    assert "花果园社区" in page and 'value="520102002"' in page  # the next free code
    r = await client.post("/units/520102/children", data={
        "_csrf": csrf, "level": "community", "code": "520102002", "name": "中华南路社区"})
    assert r.status_code in (302, 303)
    unit = await OrgUnit.get(code="520102002")
    assert (unit.level, unit.path) == ("community", "/520100/520102/520102002/")
    entry = await AuditEntry.get(action="unit.create", object_id="520102002")
    assert entry.after["name"] == "中华南路社区"
    r = await client.post("/units/520102002/children", data={
        "_csrf": csrf, "level": "grid", "code": "520102002001", "name": "第1网格",
        "households": "320"})
    assert r.status_code in (302, 303)
    assert (await OrgUnit.get(code="520102002001")).households == 320
    # Bad input: each field's message beside it, nothing written.
    r = await client.post("/units/520102/children", data={
        "_csrf": csrf, "level": "grid", "code": "5201 02", "name": "", "households": "-3"})
    assert r.status_code == 422
    for name in ("level", "code", "name", "households"):
        assert f'id="err-{name}"' in r.text, name
    assert "单位编码只能由字母、数字" in r.text and "户数应为1至100000之间的整数" in r.text
    r = await client.post("/units/520102/children", data={
        "_csrf": csrf, "level": "community", "code": "520103001", "name": "花果园社区"})
    assert r.status_code == 422
    assert "编码“520103001”已被“黔灵社区”使用" in r.text
    assert "“南明区”下已有名为“花果园社区”的单位" in r.text
    r = await client.post("/units/520102002001/children", data={
        "_csrf": csrf, "level": "grid", "code": "x1", "name": "x"})
    assert r.status_code == 422 and "是网格，下面不能再设单位" in r.text
    assert await OrgUnit.filter(parent__code="520102").count() == 2
    assert (await client.post("/units/nope/children", data={"_csrf": csrf})).status_code == 404


async def test_english_messages(client):
    csrf = await _admin(client)
    client.cookies.set("lang", "en")
    r = await client.post("/periods", data={"_csrf": csrf, "year": "abc", "part": "year"})
    assert r.status_code == 422 and "The year is four digits from 2000 to 2099" in r.text
    r = await client.post("/units/520102/children", data={"_csrf": csrf, "level": "community",
                                                           "code": "", "name": "x"})
    assert r.status_code == 422 and 'id="err-code"' in r.text and ">required<" in r.text
