"""The edit page of one report subscription: choices by name, recipients as roles ticked plus
one user or address a line; each refusal in the user's language beside its field; saved
through the same checks as the API and audited."""

from __future__ import annotations

from core.audit import AuditEntry
from plugins.ranking import models
from tests.conftest import login, make_user
from tests.plugins.ranking.helpers import apply, definition
from tests.plugins.ranking.test_reports import SUBSCRIPTION

FORM = {"title": "全市排位（季度）", "exporter": "ranking", "group": "districts",
        "detail_group": "", "unit": "", "rule": "last_closed", "fixed_period": "",
        "period_kind": "quarter", "cron": "30 9 1-7 * *", "calendar": "workday",
        "roles": ["leader"], "others": "boss\noffice@example.org > 520102", "active": "1"}


async def _setup(client):
    await apply(client.app.state.host, definition(extra=SUBSCRIPTION))
    await make_user("boss", "admin", email="boss@example.org")
    csrf = await login(client, "boss")
    return await models.Subscription.get(key="city-leaders"), csrf


async def test_edit_a_subscription(client):
    sub, csrf = await _setup(client)
    page = await client.get(f"/ranking/subscriptions/{sub.id}/edit")
    assert page.status_code == 200 and 'id="from-definition"' in page.text
    assert "只在当月第一个工作日发送" in page.text and "全体领导" in page.text
    r = await client.post(f"/ranking/subscriptions/{sub.id}/edit", data={"_csrf": csrf, **FORM})
    assert r.status_code in (302, 303), r.text[-800:]
    sub = await models.Subscription.get(id=sub.id)
    assert (sub.title, sub.period_rule, sub.period_kind, sub.cron, sub.calendar) == (
        "全市排位（季度）", "last_closed", "quarter", "30 9 1-7 * *", "workday")
    assert sub.recipients == [{"role": "leader"}, {"user": "boss"},
                              {"email": "office@example.org", "detail_unit": "520102"}]
    entry = await AuditEntry.filter(action="ranking.subscription.update",
                                    object_id=str(sub.id)).order_by("-id").first()
    assert entry.before["cron"] == "0 8 1-10 1,3,5,7,9,11 *" and entry.after["cron"] == "30 9 1-7 * *"
    assert entry.actor == "boss"


async def test_bad_input_is_named_beside_each_field(client):
    sub, csrf = await _setup(client)
    bad = {**FORM, "title": "", "group": "", "cron": "8 点", "rule": "fixed", "fixed_period": "",
           "roles": [], "others": "ghost\nnot-an-address@x"}
    r = await client.post(f"/ranking/subscriptions/{sub.id}/edit", data={"_csrf": csrf, **bad})
    assert r.status_code == 422
    for name in ("title", "group", "cron", "fixed_period", "others"):
        assert f'id="err-{name}"' in r.text, name
    assert "排位报表需要选择排位组" in r.text and "“8 点”不是有效的时间规则" in r.text
    assert "第2行：“not-an-address@x”不是有效的邮箱地址" in r.text
    r = await client.post(f"/ranking/subscriptions/{sub.id}/edit", data={
        "_csrf": csrf, **{**FORM, "others": "ghost"}})
    assert r.status_code == 422 and "第1行：没有在用的账号“ghost”" in r.text
    r = await client.post(f"/ranking/subscriptions/{sub.id}/edit", data={
        "_csrf": csrf, **{**FORM, "roles": [], "others": ""}})
    assert r.status_code == 422 and "至少要有一个收件人" in r.text
    assert (await models.Subscription.get(id=sub.id)).cron == "0 8 1-10 1,3,5,7,9,11 *"
    client.cookies.set("lang", "en")
    r = await client.post(f"/ranking/subscriptions/{sub.id}/edit", data={
        "_csrf": csrf, **{**FORM, "cron": "99 * * * *"}})
    assert r.status_code == 422 and "is not a time rule" in r.text


async def test_the_list_pages_create_and_toggle_answer_with_the_saved_message(client):
    """These redirects passed the message's name twice and answered 500 after saving."""
    sub, csrf = await _setup(client)
    r = await client.post("/ranking/subscriptions", data={
        "_csrf": csrf, "key": "weekly", "title": "每周排位", "exporter": "ranking",
        "group": "districts", "cron": "0 8 * * 1", "calendar": "any", "recipients": "boss"})
    assert r.status_code in (302, 303)
    assert "定时报表“每周排位”已保存" in (await client.get(r.headers["location"])).text
    r = await client.post(f"/ranking/subscriptions/{sub.id}/toggle", data={"_csrf": csrf})
    assert r.status_code in (302, 303)
