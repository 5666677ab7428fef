"""The record lifecycle through the JSON API: approve, appeal, decide, carry out, close."""

import datetime as dt
from decimal import Decimal

import pytest

from core.accounts import User
from core.notify_models import InboxMessage
from plugins.accountability.models import Appeal, Record
from tests.conftest import login, make_user
from tests.plugins.accountability.helpers import YEAR, apply_definition, ours, overdue, publish

PDF = b"%PDF-1.4 evidence of the rectification"


@pytest.fixture
async def app(client):
    host = client.app.state.host
    await apply_definition(host)
    await make_user("adm", "admin")
    await make_user("nm", "unit_officer", unit_code="520102")
    await make_user("yy", "unit_officer", unit_code="520103")
    await make_user("boss", "leader")
    return client


async def as_user(client, username: str) -> dict:
    client.cookies.clear()
    return {"X-CSRF-Token": await login(client, username)}


async def overdue_series(client, task_id: int = 1) -> int:
    for days, threshold in ((1, 1), (15, 15), (31, 30)):
        result = ours(await publish(overdue(task_id, days, threshold)))
    return result["records"][0]


async def test_lifecycle_end_to_end(app):
    client = app
    record_id = await overdue_series(client)
    # Unit officers see nothing of a proposal.
    h = await as_user(client, "nm")
    assert (await client.get("/api/accountability/records")).json() == []
    assert (await client.get(f"/api/accountability/records/{record_id}")).status_code == 404

    h = await as_user(client, "adm")
    [row] = (await client.get("/api/accountability/records?status=proposed")).json()
    assert (row["id"], row["measure"], row["points"], row["revision"]) == (record_id, "circulate",
                                                                            "2.00", 3)
    r = await client.post(f"/api/accountability/records/{record_id}/approve",
                          json={"responsible_person": "李四"}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "approved", r.text
    r = await client.post(f"/api/accountability/records/{record_id}/approve", json={}, headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "bad_status"

    nm = await User.get(username="nm")
    [msg] = await InboxMessage.filter(user=nm)
    assert "通报批评" in msg.subject and msg.link == f"/accountability/records/{record_id}"
    assert await InboxMessage.filter(user__username="yy").count() == 0

    # Another unit may not appeal; a missing file or reason is named.
    h = await as_user(client, "yy")
    r = await client.post(f"/api/accountability/records/{record_id}/appeals", headers=h,
                          data={"reasons": "不服"}, files={"evidence": ("a.pdf", PDF, "application/pdf")})
    assert r.status_code == 403 and r.json()["error"]["code"] == "other_unit", r.text
    assert "only the unit concerned may appeal" in r.json()["error"]["message"]
    assert (await client.get(f"/api/accountability/records/{record_id}")).status_code == 404

    h = await as_user(client, "nm")
    detail = (await client.get(f"/api/accountability/records/{record_id}")).json()
    assert detail["can_appeal"] is True and detail["appeal_deadline"] >= str(YEAR)
    assert [s["action"] for s in detail["history"]] == ["proposed", "upgraded", "upgraded", "approved"]
    url = f"/api/accountability/records/{record_id}/appeals"
    r = await client.post(url, headers=h, data={"reasons": "已按期整改"},
                          files={"evidence": ("", b"", "application/octet-stream")})
    assert r.status_code == 422 and r.json()["error"]["field"] == "evidence"
    r = await client.post(url, headers=h, data={"reasons": "已按期整改"},
                          files={"evidence": ("run.exe", b"MZ", "application/octet-stream")})
    assert r.status_code == 422 and "'run.exe' is not one of" in r.json()["error"]["message"]
    r = await client.post(url, headers=h, data={"reasons": "  "},
                          files={"evidence": ("a.pdf", PDF, "application/pdf")})
    assert r.status_code == 422 and r.json()["error"]["field"] == "reasons"
    assert await Appeal.all().count() == 0
    r = await client.post(url, headers=h, data={"reasons": "已按期整改，系统延迟登记"},
                          files={"evidence": ("证明.pdf", PDF, "application/pdf")})
    assert r.status_code == 201, r.text
    appeal = r.json()
    assert appeal["status"] == "pending" and appeal["evidence_name"] == "证明.pdf"
    r = await client.post(url, headers=h, data={"reasons": "再次申诉"},
                          files={"evidence": ("a.pdf", PDF, "application/pdf")})
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_appealed"
    got = await client.get(appeal["evidence_url"])
    assert got.status_code == 200 and got.content == PDF
    h = await as_user(client, "yy")
    assert (await client.get(appeal["evidence_url"])).status_code == 404

    # The admin reduces: points follow; deciding twice is refused.
    h = await as_user(client, "adm")
    decide = f"/api/accountability/appeals/{appeal['id']}/decide"
    r = await client.post(decide, headers=h, json={"decision": "reduce", "reason": "情有可原",
                                                   "new_points": 2.5})
    assert r.status_code == 422 and r.json()["error"]["code"] == "not_reduced"
    r = await client.post(decide, headers=h, json={"decision": "reduce", "new_points": 1})
    assert r.status_code == 422 and r.json()["error"]["field"] == "reason"
    r = await client.post(decide, headers=h, json={"decision": "reduce", "reason": "情有可原",
                                                   "new_points": "1.005"})
    assert r.status_code == 200 and r.json()["points_after"] == "1.01", r.text  # half up
    r = await client.post(decide, headers=h, json={"decision": "uphold", "reason": "x"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_decided"
    record = await Record.get(id=record_id)
    assert (record.points, record.status) == (Decimal("1.01"), "approved")
    told = await InboxMessage.filter(user=nm).order_by("id")
    assert len(told) == 2 and "1.01" in told[1].body

    # Carrying out in a closed period is refused; today is fine; closing ends it.
    carry = f"/api/accountability/records/{record_id}/carry-out"
    r = await client.post(carry, headers=h, json={"date": f"{YEAR - 1}-12-01"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "period_closed"
    r = await client.post(carry, headers=h, json={"date": "2999-01-01"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "date"
    r = await client.post(carry, headers=h, json={"notes": "已在全市通报"})
    assert r.status_code == 200 and r.json()["status"] == "carried_out"
    r = await client.post(f"/api/accountability/records/{record_id}/close", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "closed"
    detail = (await client.get(f"/api/accountability/records/{record_id}")).json()
    assert [s["action"] for s in detail["history"]][-4:] == [
        "appealed", "appeal_reduced", "carried_out", "closed"]

    # Leaders read, never write.
    h = await as_user(client, "boss")
    assert (await client.get(f"/api/accountability/records/{record_id}")).status_code == 200
    r = await client.post(f"/api/accountability/records/{record_id}/close", headers=h)
    assert r.status_code == 403


async def test_appeal_after_the_window_is_refused(app):
    client = app
    record_id = await overdue_series(client, task_id=2)
    h = await as_user(client, "adm")
    await client.post(f"/api/accountability/records/{record_id}/approve", json={}, headers=h)
    # Approved 30 days ago: 10 working days have long passed.
    await Record.filter(id=record_id).update(
        approved_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=30))
    h = await as_user(client, "nm")
    r = await client.post(f"/api/accountability/records/{record_id}/appeals", headers=h,
                          data={"reasons": "迟到的申诉"},
                          files={"evidence": ("a.pdf", PDF, "application/pdf")})
    assert r.status_code == 409 and r.json()["error"]["code"] == "appeal_window_closed"
    assert "10 working days after the approval" in r.json()["error"]["message"]
    assert await Appeal.all().count() == 0
    detail = (await client.get(f"/api/accountability/records/{record_id}")).json()
    assert detail["can_appeal"] is False and "closed on" in detail["why_not"]


async def test_withdrawn_appeal_removes_the_deduction(app):
    client = app
    record_id = await overdue_series(client, task_id=3)
    h = await as_user(client, "adm")
    await client.post(f"/api/accountability/records/{record_id}/approve", json={}, headers=h)
    await client.post(f"/api/accountability/records/{record_id}/carry-out", json={}, headers=h)
    h = await as_user(client, "nm")
    r = await client.post(f"/api/accountability/records/{record_id}/appeals", headers=h,
                          data={"reasons": "任务已取消"},
                          files={"evidence": ("a.png", b"\x89PNG", "image/png")})
    appeal_id = r.json()["id"]
    h = await as_user(client, "adm")
    r = await client.post(f"/api/accountability/records/{record_id}/close", headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "appeal_pending"
    r = await client.post(f"/api/accountability/appeals/{appeal_id}/decide", headers=h,
                          json={"decision": "withdraw", "reason": "任务已被撤销"})
    assert r.status_code == 200 and r.json()["points_after"] == "0.00"
    record = await Record.get(id=record_id)
    assert (record.status, record.points) == ("withdrawn", Decimal("0.00"))
    sources = {s.key: s for _, s in client.app.state.host.collect("kaohe_indicator_sources")}
    values = await sources["accountability.deduction_points"].values(str(YEAR), ["520102"])
    assert values == {"520102": 0.0}


async def test_manual_referral_by_admin_only(app):
    client = app
    h = await as_user(client, "adm")
    body = {"unit_code": "520102001", "measure": "refer", "points": 5, "reason": "涉嫌违纪",
            "responsible_person": "王五", "period": str(YEAR)}
    r = await client.post("/api/accountability/records", json=body, headers=h)
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["measure"], created["status"], created["trigger_type"]) == (
        "refer", "approved", "manual")
    for bad, field in (({"unit_code": "999"}, "unit_code"), ({"measure": "shout"}, "measure"),
                       ({"reason": ""}, "reason"), ({"points": "many"}, "points"),
                       ({"period": "2014Q9"}, "period")):
        r = await client.post("/api/accountability/records", json=body | bad, headers=h)
        assert r.status_code == 422 and r.json()["error"]["field"] == field, (bad, r.text)
    assert await Record.all().count() == 1
    # The officer of the parent district sees it (subtree); the other district does not.
    h = await as_user(client, "nm")
    assert [r["id"] for r in (await client.get("/api/accountability/records")).json()] == [created["id"]]
    r = await client.post("/api/accountability/records", json=body, headers=h)
    assert r.status_code == 403
    h = await as_user(client, "yy")
    assert (await client.get("/api/accountability/records")).json() == []


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"unit_code": "5" * 33}, "unit_code", "最多 32 个字符"),
    ({"points": [5]}, "points", "应为"),
    ({"target": "everyone"}, "target", "不是可选的取值"),
    ({"colour": "red"}, "colour", "不认识的字段 colour"),
])
async def test_a_malformed_manual_record_is_refused_naming_the_field(app, body, field, words):
    client = app
    h = await as_user(client, "adm")
    good = {"unit_code": "520102001", "measure": "refer", "points": 5, "reason": "涉嫌违纪"}
    r = await client.post("/api/accountability/records", json=good | body, headers=h)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["field"] == field and words in error["message"], error
    assert await Record.all().count() == 0


async def test_a_malformed_decision_is_refused_naming_the_field(app):
    client = app
    record_id = await overdue_series(client, task_id=4)
    h = await as_user(client, "adm")
    await client.post(f"/api/accountability/records/{record_id}/approve", json={}, headers=h)
    h = await as_user(client, "nm")
    r = await client.post(f"/api/accountability/records/{record_id}/appeals", headers=h,
                          data={"reasons": "已整改"},
                          files={"evidence": ("a.pdf", PDF, "application/pdf")})
    decide = f"/api/accountability/appeals/{r.json()['id']}/decide"
    h = await as_user(client, "adm")
    for body, field, words in (({"reason": "x"}, "decision", "缺少必填字段 decision"),
                               ({"decision": "forgive", "reason": "x"}, "decision", "forgive"),
                               ({"decision": "uphold", "reason": "长" * 2001}, "reason",
                                "最多 2000 个字符")):
        r = await client.post(decide, headers=h, json=body)
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert error["field"] == field and words in error["message"], error
    assert (await Appeal.get(record_id=record_id)).status == "pending"
    # a refused carry-out date names its field too, and the record stays approved
    r = await client.post(f"/api/accountability/records/{record_id}/carry-out", headers=h,
                          json={"date": "下周一"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "date"
    assert (await Record.get(id=record_id)).status == "approved"
