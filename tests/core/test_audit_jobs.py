"""Jobs that change many rows leave one audit entry per row: each mail the sender handled
and each message a digest took is found in the trail under type "mail" and its own id."""

from __future__ import annotations

from core import notify
from core.audit import AuditEntry
from core.mailer import send_due
from core.notify_models import MailMessage
from tests.conftest import make_user
from tests.core.test_notify import smtp  # noqa: F401  (a real SMTP server fixture)


async def _entries(mail_id: int) -> list[AuditEntry]:
    return await AuditEntry.filter(object_type="mail", object_id=str(mail_id)).order_by("id")


async def test_each_mail_sent_or_refused_has_its_own_entry(db, settings, smtp):  # noqa: F811
    good = [await notify.queue_mail(f"p{i}@example.org", f"报表 {i}") for i in range(3)]
    bad = await notify.queue_mail("reject@example.org", "报表 x")
    outcome = await send_due(settings)
    assert sorted(outcome["sent"]) == [m.id for m in good] and outcome["failed"] == [bad.id]
    for m in good:
        [entry] = await _entries(m.id)
        assert (entry.action, entry.after) == ("mail.send", {"result": "sent"})
    [entry] = await _entries(bad.id)
    assert entry.after == {"result": "failed"}
    assert not await AuditEntry.filter(object_id="batch").exists()


async def test_digest_records_each_message_it_took(db, settings):
    a = await make_user("alice", "admin", email="alice@example.org")
    for i in range(3):
        await notify.notify([a], f"提醒 {i}", key=f"k:{i}", digest=True)
    held = await MailMessage.filter(status="digest").order_by("id").values_list("id", flat=True)
    result = await notify.build_digests(settings)
    [digest_id] = result["digests"]
    for mid in held:
        [entry] = await _entries(mid)
        assert entry.action == "mail.digest"
        assert (entry.before, entry.after) == ({"status": "digest"},
                                               {"status": "digested", "digest": digest_id})
    [entry] = await _entries(digest_id)
    assert entry.after == {"status": "queued", "messages": list(held)}


async def test_coverage_freeze_and_reopening_are_found_by_period(db):
    from core.orgs import Period
    from plugins.coverage import stats
    from tests.plugins.coverage.world import build_world

    await build_world()
    result = await stats.freeze_closed_periods()
    for code in result["frozen"]:
        [entry] = await AuditEntry.filter(object_type="coverage_period_freeze", object_id=code)
        assert entry.action == "coverage.period.freeze" and entry.after["organizations"] > 0
    await Period.filter(code="2014Q2").update(status="open")
    assert (await stats.freeze_closed_periods())["reopened"] == ["2014Q2"]
    actions = await AuditEntry.filter(object_type="coverage_period_freeze",
                                      object_id="2014Q2").order_by("id").values_list(
                                          "action", flat=True)
    assert actions == ["coverage.period.freeze", "coverage.period.unfreeze"]
