"""The daily scan: overdue marking, thresholds announced once and only once, reminders."""

from __future__ import annotations

import datetime as dt

import pytest

from core.audit import AuditEntry
from core.events_models import EventDelivery, StoredEvent
from core.notify_models import InboxMessage
from plugins.rectification.models import OverdueNotice, Task
from plugins.rectification.scan import overdue_scan, threshold_cutoff
from tests.plugins.rectification.conftest import PDF, dispatched, step

pytestmark = pytest.mark.usefixtures("db")
D = dt.date.fromisoformat


def overdue_keys(heard):
    return sorted(e.key for e in heard if e.name == "rectification.overdue")


async def test_thresholds_announced_once_across_repeated_scans(people, heard):
    a = await dispatched(people, severity="urgent")  # deadline 2026-10-10 (Saturday, 调休)
    b = await dispatched(people, severity="general")  # deadline 2026-11-03
    assert (a.deadline, b.deadline) == (D("2026-10-10"), D("2026-11-03"))

    result = await overdue_scan(today=D("2026-10-10"))  # due today: not overdue yet
    assert result["marked_overdue"] == 0 and overdue_keys(heard) == []

    result = await overdue_scan(today=D("2026-10-11"))  # Sunday: overdue, 0 working days
    assert result["marked_overdue"] == 1 and overdue_keys(heard) == []
    a = await Task.get(id=a.id)
    assert a.overdue and a.overdue_since == D("2026-10-11") and a.overdue_level == 0

    await overdue_scan(today=D("2026-10-12"))  # Monday: 1 working day overdue
    assert overdue_keys(heard) == [f"rectification.overdue:{a.id}:1"]
    event = heard[-1]
    assert event.payload == {
        "task_id": a.id, "task_no": a.number, "title": a.title, "unit_code": "520102001",
        "responsible_person": "张三", "deadline": "2026-10-10", "days_overdue": 1,
        "threshold": 1, "period": "2026", "link": f"/rectification/tasks/{a.id}"}
    for _ in range(3):  # repeated scans on the same day announce nothing new
        result = await overdue_scan(today=D("2026-10-12"))
        assert result["announced"] == 0 and result["marked_overdue"] == 0
    assert len(overdue_keys(heard)) == 1

    await overdue_scan(today=D("2026-10-30"))  # 15th working day after 10-10
    assert overdue_keys(heard) == sorted([f"rectification.overdue:{a.id}:1",
                                          f"rectification.overdue:{a.id}:15"])
    assert heard[-1].payload["days_overdue"] == 15
    await overdue_scan(today=D("2026-10-30"))
    # b: deadline 11-03; a jump of many days at once announces every threshold crossed
    await overdue_scan(today=D("2026-12-31"))
    await overdue_scan(today=D("2026-12-31"))
    keys = overdue_keys(heard)
    assert keys == sorted([f"rectification.overdue:{a.id}:{t}" for t in (1, 15, 30)]
                          + [f"rectification.overdue:{b.id}:{t}" for t in (1, 15, 30)])
    assert len(keys) == len(set(keys))
    assert await OverdueNotice.all().count() == 6
    assert await StoredEvent.filter(name="rectification.overdue").count() == 6
    assert await EventDelivery.exclude(status="delivered").count() == 0
    assert (await Task.get(id=b.id)).overdue_level == 30


async def test_threshold_cutoff_counts_working_days(db):
    from core.calendar import WorkCalendar

    cal = await WorkCalendar.load()
    # 1 working day overdue on Mon 10-12 means a deadline on or before Sat 10-10 (a workday)
    assert threshold_cutoff(cal, D("2026-10-12"), 1) == D("2026-10-11")
    assert cal.working_days_between(D("2026-10-11"), D("2026-10-12")) == 1
    # on Thu 10-08 (first workday after the holiday) any deadline up to 10-07 is 1 day over
    assert threshold_cutoff(cal, D("2026-10-08"), 1) == D("2026-10-07")
    assert threshold_cutoff(cal, D("2026-10-08"), 2) == D("2026-09-29")


async def test_a_failing_listener_stops_no_other_and_is_retried_once(people, host, heard):
    """Before the store a raising listener stopped the listeners after it and the whole event
    was announced again, so the others heard it twice; now each listener takes it once."""
    from core import events
    from core.hookspecs import hookimpl

    task = await dispatched(people, severity="urgent")
    key = f"rectification.overdue:{task.id}:1"
    calls = {"n": 0}

    class Flaky:
        @staticmethod
        @hookimpl
        def kaohe_event(event):
            calls["n"] += 1
            if calls["n"] == 1:
                raise RuntimeError("listener down")

    class After:
        heard: list = []

        @staticmethod
        @hookimpl
        def kaohe_event(event):
            After.heard.append(event.key)

    host.register("flaky", Flaky)
    host.register("after_flaky", After)
    first = await overdue_scan(today=D("2026-10-12"))
    assert first["announced"] == 1
    # accountability among them; rectification takes only complaints, so it has no row
    others = [n for n in events.listeners(name="rectification.overdue") if n != "flaky"]
    assert "accountability" in others and "rectification" not in others
    assert first["events"]["failed"] == 1 and first["events"]["delivered"] == len(others)
    assert first["events"]["failures"][0]["listener"] == "flaky"
    assert After.heard == [key]  # the listener after the failing one still took it
    row = await EventDelivery.get(listener="flaky").select_related("event")
    assert (row.event.key, row.status, row.attempts) == (key, "failed", 1)
    assert "RuntimeError: listener down" in row.last_error and row.next_try is not None

    second = await overdue_scan(today=D("2026-10-13"))  # a scan does not retry: the job does
    assert second["announced"] == 0 and calls["n"] == 1
    await EventDelivery.filter(id=row.id).update(next_try=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    retried = await events.retry_due()
    assert [(o.listener, o.key, o.delivered) for o in retried.outcomes] == [("flaky", key, True)]
    await row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error, row.next_try) == ("delivered", 2, "", None)
    assert overdue_keys(heard) == [key] and After.heard == [key]  # the others: once each
    assert (await events.retry_due()).outcomes == []


async def test_responded_and_closed_tasks_are_not_marked(people, settings, heard):
    a = await dispatched(people, severity="urgent")
    await step(people, a, "respond", who="nm", day="2026-10-09", note="done",
               files=[("a.pdf", PDF)], settings=settings)
    result = await overdue_scan(today=D("2026-11-30"))
    assert result["marked_overdue"] == 0 and overdue_keys(heard) == []


async def test_new_deadline_clears_overdue_but_thresholds_stay_announced(people, settings, heard):
    a = await dispatched(people, severity="urgent")
    await overdue_scan(today=D("2026-10-12"))
    a = await Task.get(id=a.id).select_related("unit", "period")
    a = await step(people, a, "set_deadline", day="2026-10-12", deadline="2026-10-20",
                   reason="协调")
    assert not a.overdue and a.overdue_since is None
    await overdue_scan(today=D("2026-10-21"))
    assert (await Task.get(id=a.id)).overdue
    assert overdue_keys(heard) == [f"rectification.overdue:{a.id}:1"]  # 1 was announced before


async def test_scan_writes_one_entry_per_changed_task(people):
    a = await dispatched(people, severity="urgent")
    b = await dispatched(people, severity="urgent")
    await overdue_scan(today=D("2026-10-12"))
    for task in (a, b):
        got = {e.action: e for e in await AuditEntry.filter(
            object_type="rectification_task", object_id=task.number,
            action__startswith="rectification.overdue")}
        assert set(got) == {"rectification.overdue_scan", "rectification.overdue_remind"}
        mark = got["rectification.overdue_scan"]
        assert mark.before == {"overdue": False, "overdue_since": None, "overdue_level": 0}
        assert mark.after == {"overdue": True, "overdue_since": "2026-10-11", "overdue_level": 1}
        assert got["rectification.overdue_remind"].after == {"reminded_passed": "2026-10-10"}
    await overdue_scan(today=D("2026-10-12"))  # nothing changed: no new audit entry
    assert await AuditEntry.filter(action__startswith="rectification.overdue").count() == 4
    await overdue_scan(today=D("2026-10-30"))  # threshold 15: only the level moves
    mark = await AuditEntry.filter(action="rectification.overdue_scan",
                                   object_id=a.number).order_by("-id").first()
    assert (mark.before, mark.after) == ({"overdue_level": 1}, {"overdue_level": 15})


async def test_reminders_before_and_after_the_deadline_once(people):
    a = await dispatched(people, severity="urgent")  # deadline 10-10, unit 520102001
    b = await dispatched(people, severity="urgent", unit="520103")
    # 10-10 is 3 working days after 10-07 (a holiday): not yet on 10-06, due soon from 10-07
    r = await overdue_scan(today=D("2026-10-06"), reminder_days=2)
    assert r["reminded"] == {"before": 0, "passed": 0}
    r = await overdue_scan(today=D("2026-10-08"), reminder_days=2)
    assert r["reminded"] == {"before": 2, "passed": 0}  # one message to each unit's officer
    r = await overdue_scan(today=D("2026-10-09"), reminder_days=2)
    assert r["reminded"] == {"before": 0, "passed": 0}
    r = await overdue_scan(today=D("2026-10-11"), reminder_days=2)
    assert r["reminded"] == {"before": 0, "passed": 2}
    r = await overdue_scan(today=D("2026-10-12"), reminder_days=2)
    assert r["reminded"] == {"before": 0, "passed": 0}
    inbox = await InboxMessage.filter(user_id=people["nm_comm"].user.id).order_by("id")
    reminders = [m for m in inbox if m.event_key.startswith("rectification.remind:")]
    assert [m.event_key.split(":")[1:3] for m in reminders] == [["before", "2026-10-08"],
                                                                 ["passed", "2026-10-11"]]
    assert a.number in reminders[0].body and b.number not in reminders[0].body
    assert "已超期" in reminders[1].body
    yy = await InboxMessage.filter(user_id=people["yy"].user.id,
                                   event_key__startswith="rectification.remind:").count()
    assert yy == 2
    # the district officer is not reminded of a community task that has its own officer
    assert not await InboxMessage.filter(user_id=people["nm"].user.id,
                                         event_key__startswith="rectification.remind:").exists()
    # a new deadline re-arms the reminders
    a = await Task.get(id=a.id).select_related("unit", "period")
    await step(people, a, "set_deadline", day="2026-10-12", deadline="2026-10-14", reason="x")
    r = await overdue_scan(today=D("2026-10-12"), reminder_days=3)
    assert r["reminded"]["before"] == 1
    assert (await Task.get(id=a.id)).reminded_before == D("2026-10-14")


async def test_job_is_registered(settings, host):
    from core.scheduler import collect_jobs

    jobs = collect_jobs(settings, host)
    assert "rectification.overdue_scan" in jobs


async def test_scan_statements_use_the_partial_indexes():
    """The heavy day's level updates stay out of these two indexes only if the scan's own
    statements can use them; SQLite does so only when the WHERE repeats the predicate."""
    from tortoise import Tortoise

    from core import db
    from plugins.rectification.scan import NOT_OVERDUE, PASSED_UNREMINDED

    conn = Tortoise.get_connection("default")
    if db.dialect() == "postgres":
        _, rows = await conn.execute_query(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'rectification_task'")
        defs = {r["indexname"]: r["indexdef"] for r in rows}
        assert "overdue = false" in defs["rect_task_not_overdue"]
        assert "reminded_passed IS NULL" in defs["rect_task_passed_unreminded"]
        return
    for where, index in ((f"{NOT_OVERDUE} AND deadline < '2026-10-12'", "rect_task_not_overdue"),
                         (PASSED_UNREMINDED, "rect_task_passed_unreminded")):
        _, plan = await conn.execute_query(
            f"EXPLAIN QUERY PLAN SELECT id FROM rectification_task WHERE {where}")
        assert index in " ".join(str(r["detail"]) for r in plan), plan
