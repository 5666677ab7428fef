"""Pages: the admin queue with CSRF-protected forms, the unit's list and appeal form, the
record page with its history, the manual referral form and the dashboard panel."""

import re

import pytest

from core.notify_models import InboxMessage
from plugins.accountability.models import Appeal, Record
from tests.conftest import login, make_user
from tests.plugins.accountability.helpers import apply_definition, ours, overdue, publish

HTML = {"accept": "text/html"}


@pytest.fixture
async def app(client):
    await apply_definition(client.app.state.host)
    await make_user("adm", "admin")
    await make_user("nm", "unit_officer", unit_code="520102")
    await make_user("boss", "leader")
    return client


async def as_user(client, username: str) -> str:
    client.cookies.clear()
    return await login(client, username)


async def test_queue_approve_with_csrf_and_record_page(app):
    client = app
    for days, threshold in ((1, 1), (16, 15)):
        record_id = ours(await publish(overdue(5, days, threshold)))["records"][0]
    csrf = await as_user(client, "adm")
    page = await client.get("/accountability/queue", headers=HTML)
    assert page.status_code == 200
    assert f'id="proposal-{record_id}"' in page.text and "约谈" in page.text
    dash = await client.get("/", headers=HTML)
    assert "待审批 1 条，待处理申诉 0 条" in dash.text

    url = f"/accountability/records/{record_id}/approve"
    r = await client.post(url, data={"next": "queue"}, headers=HTML)
    assert r.status_code == 403 and (await Record.get(id=record_id)).status == "proposed"
    r = await client.post(url, data={"_csrf": csrf, "next": "queue", "responsible_person": "赵六"})
    assert r.status_code in (302, 303) and r.headers["location"].startswith("/accountability/queue")
    record = await Record.get(id=record_id)
    assert (record.status, record.responsible_person) == ("approved", "赵六")
    r = await client.post(url, data={"_csrf": csrf}, headers=HTML)
    # Approved twice: the record page again, saying why in Chinese.
    assert r.status_code == 409 and "当前状态下不能执行此操作" in r.text and 'id="record"' in r.text

    page = await client.get(f"/accountability/records/{record_id}", headers=HTML)
    history = page.text[page.text.index('id="history"'):]
    assert history.count("<tr>") == 3  # proposed, upgraded, approved
    assert "提醒 → 约谈" in history and "整改任务超期 · #5 · 15" in page.text  # the event, in words
    # The platform's notes in words, not "rule accountability.rules[1] → interview".
    assert "超期 16 个工作日，按第 2 条规则：约谈" in history, history
    assert "accountability.rules" not in page.text and "working day(s)" not in page.text


async def test_unit_officer_appeals_through_the_page(app, tmp_path):
    client = app
    record_id = ours(await publish(overdue(6, 2, 1)))["records"][0]
    csrf = await as_user(client, "nm")
    r = await client.get(f"/accountability/records/{record_id}", headers=HTML)
    assert r.status_code == 404  # not announced before approval
    csrf = await as_user(client, "adm")
    await client.post(f"/accountability/records/{record_id}/approve", data={"_csrf": csrf})

    csrf = await as_user(client, "nm")
    listing = await client.get("/accountability/records", headers=HTML)
    assert f'data-record="{record_id}"' in listing.text
    page = await client.get(f"/accountability/records/{record_id}", headers=HTML)
    assert 'id="appeal-form"' in page.text and 'name="evidence"' in page.text
    assert re.search(r"申诉截止日期：\d{4}-\d{2}-\d{2}", page.text)
    # Without the evidence: the record page again, the reasons kept, the message beside the file.
    r = await client.post(f"/accountability/records/{record_id}/appeal",
                          data={"_csrf": csrf, "reasons": "已整改到位"}, headers=HTML,
                          files={"evidence": ("", b"", "application/octet-stream")})
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert 'data-field="evidence"' in r.text and "请附上佐证材料" in r.text
    assert ">已整改到位</textarea>" in r.text and not await Appeal.exists()
    r = await client.post(f"/accountability/records/{record_id}/appeal",
                          data={"_csrf": csrf, "reasons": "已整改到位"},
                          files={"evidence": ("照片.jpg", b"\xff\xd8\xff", "image/jpeg")})
    assert r.status_code in (302, 303), r.text
    [appeal] = await Appeal.all()
    assert appeal.reasons == "已整改到位" and appeal.evidence_size == 3
    page = await client.get(f"/accountability/records/{record_id}", headers=HTML)
    # The appeal's state, not the refusal a second appeal would get.
    assert 'id="appeal-state"' in page.text and "申诉处理中" in page.text
    assert "不能申诉" not in page.text and "already appealed" not in page.text

    # Carried out while the appeal waits: no 结案 button, and a forced close is a page in
    # Chinese with a way back to the record.
    csrf = await as_user(client, "adm")
    await client.post(f"/accountability/records/{record_id}/carry-out", data={"_csrf": csrf})
    admin_page = await client.get(f"/accountability/records/{record_id}", headers=HTML)
    assert 'id="close-waits"' in admin_page.text
    assert f'action="/accountability/records/{record_id}/close"' not in admin_page.text
    r = await client.post(f"/accountability/records/{record_id}/close", data={"_csrf": csrf},
                          headers={**HTML, "referer": f"http://testserver/accountability/records/{record_id}"})
    assert r.status_code == 409 and "请先对申诉作出决定再结案" in r.text
    assert "appeal is pending" not in r.text

    csrf = await as_user(client, "adm")
    admin_page = await client.get(f"/accountability/records/{record_id}", headers=HTML)
    assert f'/accountability/appeals/{appeal.id}/decide' in admin_page.text
    r = await client.post(f"/accountability/appeals/{appeal.id}/decide",
                          data={"_csrf": csrf, "decision": "uphold", "reason": "证据不足"})
    assert r.status_code in (302, 303)
    assert (await Appeal.get(id=appeal.id)).status == "upheld"
    subjects = [m.subject for m in await InboxMessage.filter(user__username="nm").order_by("id")]
    assert len(subjects) == 2 and subjects[1].startswith("申诉处理结果")


async def test_manual_referral_form(app):
    client = app
    csrf = await as_user(client, "adm")
    form = await client.get("/accountability/new", headers=HTML)
    assert form.status_code == 200 and 'value="refer" selected' in form.text
    bad = await client.post("/accountability/new", headers=HTML, data={
        "_csrf": csrf, "unit_code": "520102", "measure": "refer", "points": "5", "reason": ""})
    assert bad.status_code == 422 and "请填写理由" in bad.text and "say why" not in bad.text
    assert await Record.all().count() == 0
    r = await client.post("/accountability/new", data={
        "_csrf": csrf, "unit_code": "520102", "measure": "refer", "points": "5",
        "reason": "严重失职", "responsible_person": "钱七", "target": "head"})
    assert r.status_code in (302, 303)
    record = await Record.get()
    assert (record.measure, record.status, record.automatic, record.target) == (
        "refer", "approved", False, "head")
    [message] = await InboxMessage.filter(user__username="nm")
    # No reference number given: the message names what the record rests on, never "依据：，".
    assert "依据：严重失职，扣5" in message.body and "依据：，" not in message.body
    csrf = await as_user(client, "boss")
    dash = await client.get("/", headers=HTML)
    assert 'id="accountability-panel"' in dash.text
    assert (await client.get("/accountability/new", headers=HTML)).status_code == 403
