"""Notifications: inbox once per event, mail through a real SMTP server (aiosmtpd), digests."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import socket
from email import policy

import pytest
from aiosmtpd.controller import Controller
from tortoise.transactions import in_transaction

from core import notify
from core.mailer import send_due
from core.notify_models import InboxMessage, MailMessage
from core.orgs import OrgUnit
from tests.conftest import login, make_user

UTC = dt.UTC


class Collector:
    """aiosmtpd handler: keeps what arrived; refuses recipients starting with 'reject'."""

    def __init__(self):
        self.messages: list[tuple[str, list[str], email.message.EmailMessage]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("reject"):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 Message accepted for delivery"


class SMTPServer:
    """A real SMTP server on 127.0.0.1 that can be stopped and started on the same port."""

    def __init__(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.handler = Collector()
        self.controller: Controller | None = None

    def start(self):
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self):
        return self.handler.messages


@pytest.fixture
def smtp(settings):
    server = SMTPServer()
    server.start()
    settings.core.mail.port = server.port
    settings.core.mail.sender = "kaohe@example.org"
    yield server
    server.stop()


async def users():
    a = await make_user("alice", "admin", email="alice@example.org")
    b = await make_user("bob", "leader")  # no address: inbox only
    c = await make_user("carol", "instructor", email="carol@example.org")
    c.is_active = False
    await c.save()
    return a, b, c


# --- inbox and dedupe -----------------------------------------------------------------------

async def test_same_event_notifies_a_person_once(db):
    a, b, c = await users()
    n = await notify.notify([a, b, c, a], "整改任务逾期", "任务 ZG-1 已逾期 3 个工作日",
                            key="rectification.overdue:1:1", link="/rectification/tasks/1")
    assert n == 2  # alice and bob; carol is disabled, alice listed twice
    again = await notify.notify([a, b], "整改任务逾期", key="rectification.overdue:1:1")
    assert again == 0
    assert await InboxMessage.filter(event_key="rectification.overdue:1:1").count() == 2
    mails = await MailMessage.all()
    assert [(m.to_addr, m.status) for m in mails] == [("alice@example.org", "queued")]
    assert "查看详情：http://127.0.0.1:8000/rectification/tasks/1" in mails[0].body
    assert "请勿直接回复" in mails[0].body
    # A new threshold is a new event.
    assert await notify.notify([a], "整改任务逾期", key="rectification.overdue:1:15") == 1
    with pytest.raises(ValueError, match="key is required"):
        await notify.notify([a], "x", key="")
    with pytest.raises(ValueError, match="subject is empty"):
        await notify.notify([a], " ", key="k")


async def test_duplicate_inside_a_transaction_does_not_abort_it(db, monkeypatch):
    a, b, _ = await users()
    await notify.notify([a], "第一次", key="evt:1")

    async def never_exists(**kwargs):  # force the race path: the insert itself collides
        return False

    monkeypatch.setattr(InboxMessage, "exists", staticmethod(never_exists))
    async with in_transaction():
        told = await notify.notify([a, b], "第二次", key="evt:1")
        # The caller's transaction is still usable after alice's duplicate was refused.
        await OrgUnit.create(code="X1", name="事务内写入", level="city", path="/X1/")
    assert told == 1
    assert await OrgUnit.filter(code="X1").exists()
    assert await InboxMessage.filter(event_key="evt:1").count() == 2
    assert await MailMessage.filter(event_key="evt:1").count() == 1  # alice's first only


async def test_inbox_api_shows_the_message(client):
    await users()
    await login(client, "bob")
    bob = await InboxMessage.filter().count()
    assert bob == 0
    from core.accounts import User

    await notify.notify([await User.get(username="bob")], "考核排名已发布", key="ranking.published:1",
                        link="/ranking/1")
    r = await client.get("/api/inbox")
    assert r.status_code == 200
    assert [m["subject"] for m in r.json()] == ["考核排名已发布"]


# --- sending ----------------------------------------------------------------------------------

async def test_mail_is_delivered_with_its_attachment(db, settings, smtp, tmp_path):
    data = bytes(range(256)) * 40
    path = tmp_path / "ranking.xlsx"
    path.write_bytes(data)
    m = await notify.queue_mail("leader@example.org", "【考核】2014年第一季度排名", "请查收附件。",
                                attachment_path=str(path), attachment_name="排名表.xlsx",
                                key="ranking.report:1")
    same = await notify.queue_mail("leader@example.org", "重复", key="ranking.report:1")
    assert same.id == m.id  # queued once per (address, key)
    result = await send_due(settings)
    assert result == {"sent": [m.id], "retry": [], "failed": []}
    assert len(smtp.messages) == 1
    sender, rcpts, msg = smtp.messages[0]
    assert sender == "kaohe@example.org" and rcpts == ["leader@example.org"]
    assert msg["Subject"] == "【考核】2014年第一季度排名"
    assert msg.get_body(("plain",)).get_content().strip() == "请查收附件。"
    [att] = list(msg.iter_attachments())
    assert att.get_filename() == "排名表.xlsx"
    assert att.get_content_type().endswith("spreadsheetml.sheet")
    assert att.get_payload(decode=True) == data
    row = await MailMessage.get(id=m.id)
    assert row.status == "sent" and row.attempts == 1 and row.sent_at is not None
    assert await send_due(settings) == {"sent": [], "retry": [], "failed": []}  # sent once


async def test_server_down_delays_mail_and_loses_none(db, settings, smtp):
    smtp.stop()
    ids = [(await notify.queue_mail(f"u{i}@example.org", f"通知{i}", "正文")).id for i in range(3)]
    t0 = dt.datetime.now(UTC)
    first = await send_due(settings, now=t0)
    assert first["retry"] == ids and first["sent"] == []
    rows = await MailMessage.filter(id__in=ids).order_by("id")
    for r in rows:
        assert r.status == "queued" and r.attempts == 1 and r.last_error
        assert r.next_attempt_at > t0  # pushed back by the base delay (1 s here)
    # Not due yet: nothing is tried again at the same moment.
    assert await send_due(settings, now=t0) == {"sent": [], "retry": [], "failed": []}
    second = await send_due(settings, now=t0 + dt.timedelta(seconds=5))
    assert second["retry"] == ids
    again = await MailMessage.filter(id__in=ids).order_by("id")
    for before, after in zip(rows, again, strict=True):
        assert after.attempts == 2
        # Exponential back-off: 1 s after the first failure, 2 s after the second.
        assert after.next_attempt_at - (t0 + dt.timedelta(seconds=5)) == dt.timedelta(seconds=2)
        assert before.next_attempt_at - t0 == dt.timedelta(seconds=1)
    smtp.start()
    third = await send_due(settings, now=t0 + dt.timedelta(seconds=60))
    assert third == {"sent": ids, "retry": [], "failed": []}
    assert sorted(r[1][0] for r in smtp.messages) == [f"u{i}@example.org" for i in range(3)]
    done = await MailMessage.filter(id__in=ids)
    assert all(r.status == "sent" and r.attempts == 3 for r in done)


async def test_after_max_attempts_mail_fails_and_keeps_its_error(db, settings, smtp):
    settings.core.mail.max_attempts = 3
    smtp.stop()
    m = await notify.queue_mail("x@example.org", "通知", "正文")
    now = dt.datetime.now(UTC)
    outcomes = []
    for i in range(4):
        outcomes.append(await send_due(settings, now=now + dt.timedelta(hours=i)))
    assert [o["retry"] for o in outcomes[:2]] == [[m.id], [m.id]]
    assert outcomes[2]["failed"] == [m.id]
    assert outcomes[3] == {"sent": [], "retry": [], "failed": []}  # failed mail is left alone
    row = await MailMessage.get(id=m.id)
    assert row.status == "failed" and row.attempts == 3
    assert "Connect" in row.last_error or "refused" in row.last_error.lower()
    assert row.next_attempt_at is None


async def test_refused_recipient_and_missing_attachment_fail_at_once(db, settings, smtp, tmp_path):
    bad = await notify.queue_mail("reject@example.org", "通知", "正文")
    gone = await notify.queue_mail("ok@example.org", "报表", "附件", attachment_path=str(
        tmp_path / "missing.xlsx"), attachment_name="报表.xlsx")
    good = await notify.queue_mail("ok@example.org", "通知", "正文")
    result = await send_due(settings)
    assert result == {"sent": [good.id], "retry": [], "failed": [bad.id, gone.id]}
    bad, gone = await MailMessage.get(id=bad.id), await MailMessage.get(id=gone.id)
    assert bad.attempts == 1 and "550" in bad.last_error
    assert "missing.xlsx" in gone.last_error
    assert len(smtp.messages) == 1


async def test_queue_mail_rejects_bad_input(db):
    for addr in ("", "nobody", "a@b", "a b@example.org", "x@example.org, y@example.org"):
        with pytest.raises(ValueError, match="to_addr"):
            await notify.queue_mail(addr, "主题")
    with pytest.raises(ValueError, match="subject"):
        await notify.queue_mail("a@example.org", "  ")
    assert await MailMessage.all().count() == 0


async def test_two_senders_send_each_mail_once(db, settings, smtp):
    ids = [(await notify.queue_mail(f"p{i}@example.org", f"通知{i}", "正文")).id for i in range(12)]
    results = await asyncio.gather(send_due(settings), send_due(settings))
    sent = sorted(results[0]["sent"] + results[1]["sent"])
    assert sent == ids
    assert len(smtp.messages) == 12
    assert sorted(r[1][0] for r in smtp.messages) == sorted(f"p{i}@example.org" for i in range(12))


# --- digest -----------------------------------------------------------------------------------

async def test_digest_groups_a_persons_messages_into_one_mail(db, settings, smtp):
    a, b, _ = await users()
    d = await make_user("dave", "instructor", email="dave@example.org")
    for i in range(3):
        await notify.notify([a, d], f"整改进度更新 {i}", f"第 {i} 条", key=f"progress:{i}",
                            link=f"/r/{i}", digest=True)
    await notify.notify([a], "立即通知", key="urgent:1")
    held = await MailMessage.filter(status="digest").count()
    assert held == 6
    at = dt.datetime(2024, 5, 2, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    result = await notify.build_digests(settings, at)
    assert len(result["digests"]) == 2 and result["messages"] == 6
    assert await MailMessage.filter(status="digest").count() == 0
    assert await MailMessage.filter(status="digested").count() == 6
    assert (await notify.build_digests(settings, at))["digests"] == []
    await send_due(settings)
    by_to: dict[str, list] = {}
    for _, rcpts, msg in smtp.messages:
        by_to.setdefault(rcpts[0], []).append(msg)
    assert sorted(len(v) for v in by_to.values()) == [1, 2]  # dave: digest; alice: urgent + digest
    [digest] = by_to["dave@example.org"]
    assert digest["Subject"] == "【考核】每日消息汇总（2024-05-02，共3条）"
    text = digest.get_content()
    for i in range(3):
        assert f"整改进度更新 {i}" in text and f"/r/{i}" in text
    assert text.count("请勿直接回复") == 1
    # Inbox rows exist at once, whatever the mail does.
    assert await InboxMessage.filter(user_id=d.id).count() == 3


async def test_mail_job_runs_through_the_scheduler(db, settings, host, smtp):
    from core.scheduler import PlatformScheduler

    m = await notify.queue_mail("j@example.org", "通知", "正文")
    sched = PlatformScheduler(settings, host, instance="A")
    run = await sched.run_now("core.mail")
    assert run.status == "ok" and run.changed["sent"] == [m.id]
    assert len(smtp.messages) == 1


# --- delivery state for admins ----------------------------------------------------------------

async def test_mail_api_and_page(client, settings):
    await make_user("adm", "admin", email="adm@example.org")
    await make_user("lead", "leader")
    sent = await notify.queue_mail("s@example.org", "已发", "正文")
    failed = await notify.queue_mail("f@example.org", "失败", "正文")
    await MailMessage.filter(id=sent.id).update(status="sent")
    await MailMessage.filter(id=failed.id).update(status="failed", attempts=6,
                                                  last_error="SMTPConnectError: down")
    csrf = await login(client, "adm")
    r = await client.get("/api/mail", params={"status": "failed"})
    assert r.status_code == 200
    body = r.json()
    assert [m["id"] for m in body["messages"]] == [failed.id]
    assert body["messages"][0]["last_error"] == "SMTPConnectError: down"
    assert body["counts"]["failed"] == 1 and body["counts"]["sent"] == 1
    r = await client.get("/api/mail", params={"status": "lost"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "status"
    page = await client.get("/mail", headers={"accept": "text/html"})
    assert page.status_code == 200 and "邮件发送状态" in page.text and "f@example.org" in page.text
    assert f'action="/mail/{failed.id}/retry"' in page.text
    r = await client.post(f"/mail/{failed.id}/retry", data={"_csrf": "wrong"})
    assert r.status_code == 403
    assert (await MailMessage.get(id=failed.id)).status == "failed"
    r = await client.post(f"/api/mail/{sent.id}/retry", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 409
    r = await client.post(f"/api/mail/{failed.id}/retry", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["status"] == "queued" and r.json()["attempts"] == 0
    client.cookies.clear()
    await login(client, "lead")
    assert (await client.get("/api/mail")).status_code == 403
    assert (await client.get("/mail")).status_code == 403


async def test_mail_api_is_paged_in_the_database(client):
    await make_user("adm", "admin")
    ids = [(await notify.queue_mail(f"u{n}@example.org", f"第 {n} 封", "正文")).id
           for n in range(5)]
    await MailMessage.filter(id__in=ids[:2]).update(status="failed")
    await notify.queue_mail("other@example.net", "别处", "正文")
    await login(client, "adm")
    params = {"to": "example.org", "size": 2}
    seen = []
    for page in (1, 2, 3):
        r = await client.get("/api/mail", params={**params, "page": page})
        assert r.status_code == 200, r.text
        assert (r.headers["X-Total-Count"], r.headers["X-Page"], r.headers["X-Page-Size"]) == (
            "5", str(page), "2")
        seen += [m["id"] for m in r.json()["messages"]]
    assert seen == ids[::-1]  # newest first, each once, the other address left out
    # The counts by status stay those of all mail, whatever page or filter.
    assert r.json()["counts"]["failed"] == 2 and r.json()["counts"]["queued"] == 4
    r = await client.get("/api/mail", params={**params, "page": 50})
    assert r.headers["X-Page"] == "3" and [m["id"] for m in r.json()["messages"]] == [ids[0]]
    r = await client.get("/api/mail", params={"status": "failed", "size": 1})
    assert r.headers["X-Total-Count"] == "2" and r.json()["messages"][0]["id"] == ids[1]
    r = await client.get("/api/mail")
    assert r.headers["X-Page-Size"] == "200" and len(r.json()["messages"]) == 6
    r = await client.get("/api/mail", params={"size": 0})
    assert r.status_code == 400 and r.json()["error"]["field"] == "size"
    assert r.json()["error"]["message"] == "参数 size 无效：不能小于 1"
