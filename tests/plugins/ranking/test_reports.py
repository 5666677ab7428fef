"""Report subscriptions: scheduled firings delivered to a real SMTP server process (aiosmtpd),
the workbook attached and read back with python-calamine; retries, refusals, dry runs."""

from __future__ import annotations

import datetime as dt
import email
import hashlib
import io
import socket
import subprocess
import sys
import time
from email import policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from python_calamine import CalamineWorkbook

from core.archive import ReportFile
from core.errors import Invalid
from core.mailer import send_due
from core.notify_models import InboxMessage, MailMessage
from core.orgs import Period
from plugins.ranking import models, rankings, reports, subscriptions
from tests.conftest import make_user
from tests.plugins.ranking.helpers import STUB_VALUES, apply, definition, enter, scenario_values

HERE = Path(__file__).parent
TZ = ZoneInfo("Asia/Shanghai")

SUBSCRIPTION = """
[[ranking.subscriptions]]
key = "city-leaders"
title = "全市工作绩效排位"
exporter = "ranking"
group = "districts"
period_rule = "fixed:2014"
cron = "0 8 1-10 1,3,5,7,9,11 *"
calendar = "first_workday"
detail_group = "communities"
recipients = [{ role = "leader" }, { email = "office@example.org" }, { email = "reject@example.org" }]
"""


class SinkProcess:
    """The SMTP server runs in its own process; it can be stopped and started again."""

    def __init__(self, out: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.out = out
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, str(HERE / "smtp_sink.py"), str(self.port),
                                      str(self.out)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stdin.close()
            self.proc.wait(10)
            self.proc = None

    def messages(self) -> dict[str, list[email.message.EmailMessage]]:
        found: dict[str, list] = {}
        for path in sorted(self.out.glob("*.eml")):
            rcpt = path.stem.split("-", 1)[1]
            found.setdefault(rcpt, []).append(
                email.message_from_bytes(path.read_bytes(), policy=policy.default))
        return found


@pytest.fixture
def smtp(settings, tmp_path):
    server = SinkProcess(tmp_path / "mailbox")
    server.start()
    settings.core.mail.host = "127.0.0.1"
    settings.core.mail.port = server.port
    settings.core.mail.sender = "kaohe@example.org"
    yield server
    server.stop()


def local(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TZ)


async def setup_world(host):
    await apply(host, definition(extra=SUBSCRIPTION))
    await make_user("admin1", "admin", email="admin1@example.org")
    await make_user("city_leader", "leader", email="city@example.org")
    await make_user("nm_leader", "leader", unit_code="520102", email="nanming@example.org")
    await make_user("no_address", "leader")
    await enter("2014", "districts", scenario_values())
    await rankings.publish((await rankings.compute("2014", "districts", "t")).id, "t")
    STUB_VALUES["520102001"] = 88
    await enter("2014", "communities", {("520102001", "sat"): 81, ("520102001", "sec"): 90,
                                        ("520102001", "cases"): 3})
    await rankings.publish((await rankings.compute("2014", "communities", "t")).id, "t")
    sub = await subscriptions.get("city-leaders")
    # The subscription has existed since before the firing we simulate.
    await models.Subscription.filter(id=sub.id).update(created_at=local(2014, 6, 1))
    return await subscriptions.get(sub.id)


def attachment(msg) -> tuple[str, bytes]:
    [part] = [p for p in msg.iter_attachments()]
    return part.get_filename(), part.get_content()


def summary(data: bytes) -> list[list]:
    return CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name("排位汇总").to_python()


async def test_scheduled_delivery_reaches_a_real_smtp_server_with_the_workbook(db, host,
                                                                             settings, smtp):
    sub = await setup_world(host)
    # 2014-07-01 (Tuesday) is the first working day of July: the 08:00 firing is due.
    outcome = await reports.run_due(settings, local(2014, 7, 1, 8, 5))
    assert outcome["fired"] == ["city-leaders@2014-07-01 08:00"]
    [firing] = await models.Firing.filter(subscription=sub)
    assert firing.scheduled_for == local(2014, 7, 1, 8, 0) and firing.period == "2014"
    assert firing.status == "partial" and "no_address" in firing.error  # no address to send to
    files = {r.id: r for r in await ReportFile.filter(id__in=firing.report_ids)}
    assert sorted((r.group, r.unit) for r in files.values()) == [("communities", "520102"),
                                                                  ("districts", "")]
    # Once per firing, however often the job looks and however many instances run it.
    assert (await reports.run_due(settings, local(2014, 7, 1, 8, 10)))["fired"] == []
    assert await reports.fire(settings, sub, local(2014, 7, 1, 8, 0)) is None
    assert await models.Firing.filter(subscription=sub).count() == 1

    sent = await send_due(settings)  # core's mail job
    # Four workbook mails, plus the admin's notice that no_address could not be sent to.
    assert len(sent["sent"]) == 5 and len(sent["failed"]) == 1
    await reports.sync_deliveries()
    states = {(d.recipient, tuple(d.report_ids)): d.state
              for d in await models.Delivery.filter(firing=firing)}
    main = next(r.id for r in files.values() if r.group == "districts")
    detail = next(r.id for r in files.values() if r.group == "communities")
    assert states == {("city_leader", (main,)): "sent", ("nm_leader", (main,)): "sent",
                      ("nm_leader", (detail,)): "sent", ("office@example.org", (main,)): "sent",
                      ("reject@example.org", (main,)): "failed",
                      ("no_address", (main,)): "skipped"}

    for _ in range(50):  # the server process writes each message as it arrives
        box = smtp.messages()
        if sum(len(v) for v in box.values()) >= 5:
            break
        time.sleep(0.1)
    assert sorted((k, len(v)) for k, v in box.items()) == [
        ("admin1@example.org", 1), ("city@example.org", 1), ("nanming@example.org", 2),
        ("office@example.org", 1)]
    msg = box["city@example.org"][0]
    assert msg["Subject"] == "全市工作绩效排位（2014）"
    name, data = attachment(msg)
    assert name.endswith(".xlsx")
    assert hashlib.sha256(data).hexdigest() == files[main].sha256  # the archived file itself
    rows = summary(data)
    assert [(r[0], r[1], r[3]) for r in rows[3:7]] == [
        (1, "520102", 100.0), (2, "520111", 82.0), (3, "520103", 79.0), (4, "520112", 68.5)]
    details = [summary(attachment(m)[1]) for m in box["nanming@example.org"]]
    communities = [d for d in details if d[3][1] == "520102001"]
    assert communities and len(communities[0]) == 4 and "南明区" in communities[0][1][0]

    admin_inbox = [m.subject for m in await InboxMessage.filter(user__username="admin1")]
    assert sum("reject@example.org" in s for s in admin_inbox) == 1
    assert sum("no_address" in s for s in admin_inbox) == 1
    leader_inbox = await InboxMessage.filter(user__username="city_leader")
    assert [m.link for m in leader_inbox] == ["/archive"]


async def test_first_working_day_follows_the_holiday_calendar(db, host):
    await apply(host, definition(extra=SUBSCRIPTION))
    sub = await subscriptions.get("city-leaders")
    # 2014: May 1–3 were the Labour Day holiday and Sunday May 4 a make-up working day (调休).
    assert await subscriptions.due_times(sub, local(2014, 4, 30), local(2014, 5, 11)) == [
        local(2014, 5, 4, 8)]
    assert await subscriptions.due_times(sub, local(2013, 12, 31), local(2014, 1, 31)) == [
        local(2014, 1, 2, 8)]  # New Year's Day is a holiday
    assert await subscriptions.due_times(sub, local(2014, 9, 30), local(2014, 10, 31)) == []
    year = await subscriptions.due_times(sub, local(2014, 1, 1), local(2014, 12, 31))
    assert [t.month for t in year] == [1, 3, 5, 7, 9, 11] and all(t.hour == 8 for t in year)


async def test_not_the_first_working_day_fires_nothing(db, host, settings):
    sub = await setup_world(host)
    await models.Subscription.filter(id=sub.id).update(last_fired_for=local(2014, 7, 1, 8))
    outcome = await reports.run_due(settings, local(2014, 7, 2, 8, 5))
    assert outcome["fired"] == [] and await models.Firing.all().count() == 0


async def test_failed_delivery_is_retried_and_delivered_when_the_server_is_back(
        db, host, settings, smtp):
    sub = await setup_world(host)
    smtp.stop()  # the mail server is down at 08:00
    firing = await reports.run_now(settings, sub)
    first = await send_due(settings)
    assert first["sent"] == [] and len(first["retry"]) == 6  # 5 workbooks + the admin notice
    await reports.sync_deliveries()
    city = await models.Delivery.get(firing=firing, recipient="city_leader")
    assert (city.state, city.attempts) == ("retrying", 1) and city.last_error
    smtp.start()
    second = await send_due(settings, now=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    assert len(second["sent"]) == 5 and len(second["failed"]) == 1  # reject@: 550 is final
    await reports.sync_deliveries()
    city = await models.Delivery.get(firing=firing, recipient="city_leader")
    assert (city.state, city.attempts) == ("sent", 2) and city.sent_at is not None
    for _ in range(50):
        if "city@example.org" in smtp.messages():
            break
        time.sleep(0.1)
    assert len(smtp.messages()["city@example.org"]) == 1


async def test_delivery_failing_every_retry_is_reported_to_admins_once(db, host, settings, smtp):
    settings.core.mail.max_attempts = 2
    sub = await setup_world(host)
    smtp.stop()
    firing = await reports.run_now(settings, sub)
    await send_due(settings)
    await reports.sync_deliveries()
    assert not await InboxMessage.filter(subject__contains="city_leader").exists()
    await send_due(settings, now=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    await reports.sync_deliveries()
    city = await models.Delivery.get(firing=firing, recipient="city_leader")
    assert (city.state, city.attempts) == ("failed", 2)
    await reports.sync_deliveries()  # told once only
    told = await InboxMessage.filter(user__username="admin1", subject__contains="city_leader")
    assert len(told) == 1 and "2 次尝试后仍失败" in told[0].body


async def test_dry_run_shows_who_would_get_what_and_sends_nothing(db, host):
    sub = await setup_world(host)
    plan = await reports.dry_run(sub, now=local(2014, 6, 20))
    assert plan["period"] == "2014" and plan["next"][0] == "2014-07-01 08:00"
    by = {r["recipient"]: r for r in plan["recipients"]}
    assert set(by) == {"city_leader", "nm_leader", "no_address", "office@example.org",
                       "reject@example.org"}
    assert by["nm_leader"]["files"] == ["ranking_2014_districts.xlsx",
                                        "ranking_2014_communities_520102.xlsx"]
    assert by["no_address"]["problem"] == "user 'no_address' has no mail address"
    assert await models.Firing.all().count() == 0
    assert await ReportFile.all().count() == 0 and await MailMessage.all().count() == 0


async def test_a_firing_without_a_published_ranking_fails_and_is_reported(db, host, settings):
    await apply(host, definition(extra=SUBSCRIPTION))
    await make_user("admin1", "admin")
    sub = await subscriptions.get("city-leaders")
    firing = await reports.run_now(settings, sub)
    assert firing.status == "failed" and "no published ranking" in firing.error
    assert await ReportFile.all().count() == 0 and await models.Delivery.all().count() == 0
    assert await InboxMessage.filter(subject__contains="定时报表发送失败").count() == 1


async def test_bad_subscriptions_are_refused_naming_the_field(db, host):
    await apply(host)
    await make_user("leader1", "leader", email="l@example.org")
    good = {"key": "s1", "title": "排位", "exporter": "ranking", "group": "districts",
            "cron": "0 8 * * 1", "recipients": [{"user": "leader1"}]}
    sub = await subscriptions.save(good)
    assert (sub.calendar, sub.period_rule, sub.origin) == ("any", "last_closed", "admin")
    cases = [({"cron": "0 8 32 * *"}, "cron"), ({"cron": "every monday"}, "cron"),
             ({"exporter": "nope"}, "exporter"), ({"group": "towns"}, "group"),
             ({"recipients": [{"user": "ghost"}]}, "recipients[0].user"),
             ({"recipients": []}, "recipients"), ({"period_rule": "yesterday"}, "period_rule"),
             ({"key": "s1"}, "key")]
    for change, field in cases:
        raw = {**good, "key": "s2", **change}
        with pytest.raises(Invalid) as info:
            await subscriptions.save(raw)
        assert info.value.field == field, (change, info.value.message)
        assert info.value.message.startswith(field), info.value.message
    assert await models.Subscription.all().count() == 1


async def test_period_rules(db, host):
    await apply(host, definition(extra=SUBSCRIPTION))
    sub = await subscriptions.get("city-leaders")
    for code, status in (("2014H1", "closed"), ("2014Q2", "closed"), ("2014Q3", "open")):
        await Period.create(code=code, kind={"H": "half", "Q": "quarter"}[code[4]],
                            start=dt.date(2014, 4 if code[4:] == "Q2" else 1 if code[4] == "H"
                                          else 7, 1),
                            end=dt.date(2014, 6, 30) if code != "2014Q3" else dt.date(2014, 9, 30),
                            status=status)
    sub.period_rule = "last_closed"
    # 2014H1 and 2014Q2 end together: the longer one wins.
    assert await subscriptions.resolve_period(sub, local(2014, 7, 1, 8)) == "2014H1"
    sub.period_kind = "quarter"
    assert await subscriptions.resolve_period(sub, local(2014, 7, 1, 8)) == "2014Q2"
    sub.period_rule, sub.period_kind = "current", ""
    assert await subscriptions.resolve_period(sub, local(2014, 8, 1, 8)) == "2014Q3"
    sub.period_rule = "fixed:2099"
    with pytest.raises(Invalid):
        await subscriptions.resolve_period(sub, local(2014, 8, 1, 8))


async def test_two_instances_firing_the_same_time_run_it_once(db, host, settings):
    import asyncio

    sub = await setup_world(host)
    when = local(2014, 7, 1, 8)
    results = await asyncio.gather(reports.fire(settings, sub, when),
                                   reports.fire(settings, sub, when))
    assert sorted(r is None for r in results) == [False, True]
    assert await models.Firing.filter(subscription=sub).count() == 1
    assert await ReportFile.filter(group="districts").count() == 1


async def test_the_report_job_runs_through_the_platform_scheduler(db, host, settings):
    from core.scheduler import PlatformScheduler, make_trigger

    sched = PlatformScheduler(settings, host)
    assert {"ranking.reports", "ranking.finalize"} <= set(sched.jobs)
    assert str(make_trigger(sched.jobs["ranking.reports"].trigger, "Asia/Shanghai")).startswith(
        "cron[")
    await setup_world(host)
    run = await sched.run_now("ranking.reports")
    assert run.status == "ok", run.error
    assert set(run.changed) == {"fired", "claimed_elsewhere", "deliveries"}
    run = await sched.run_now("ranking.finalize")
    assert run.status == "ok" and run.changed == {"finalized": []}
