"""End to end with the real rectification plugin: its workflow makes a task overdue, its
scan (and its scheduled job) announce the thresholds, and the accountability record follows.

Only tests combine the two plugins; the accountability plugin never imports rectification.
"""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from core.events_models import EventDelivery
from core.scheduler import PlatformScheduler
from plugins.accountability import appeals, services
from plugins.accountability.models import Record, RecordHistory
from plugins.rectification import common as rect_common
from plugins.rectification import scan as rect_scan
from plugins.rectification import workflow as rect_workflow
from tests.conftest import make_user
from tests.plugins.accountability.helpers import apply_definition, definition

SH = dt.timezone(dt.timedelta(hours=8))
D = dt.date.fromisoformat
PDF = b"%PDF-1.4\n% evidence\n"


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=10, tzinfo=SH)


@pytest.fixture
async def people(db, host):
    await apply_definition(host, definition(year=2026, extra="""
[rectification]
overdue_thresholds = [1, 15, 30]
"""))
    users = {"admin": await make_user("admin1", "admin"),
             "nm": await make_user("nm", "unit_officer", unit_code="520102")}
    return {k: await rect_common.actor_for(u) for k, u in users.items()}, users


async def dispatched(actors, title: str):
    task = await rect_workflow.register(actors["admin"], {
        "period": "2026", "source": "grid", "category": "general", "severity": "urgent",
        "title": title, "description": "路面坑洼", "unit": "520102",
        "responsible_person": "张三"}, now=at("2026-09-29"))
    for action in ("assess", "dispatch"):
        task = await rect_workflow.act(task.id, action, actors["admin"],
                                       {"version": task.version}, now=at("2026-09-30"))
    return task


async def test_overdue_task_from_rectification_to_reduced_appeal(people, settings, host, tmp_path):
    actors, users = people
    task = await dispatched(actors, "小区道路破损")
    assert task.deadline == D("2026-10-10")  # urgent: 3 working days, 10-10 is a 调休 workday

    await rect_scan.overdue_scan(today=D("2026-10-12"))           # 1 working day overdue
    [record] = await Record.all()
    assert (record.trigger_key, record.measure, record.status) == (f"task:{task.id}", "remind",
                                                                   "proposed")
    assert (record.trigger_ref, record.trigger_link) == (task.number,
                                                         f"/rectification/tasks/{task.id}")
    await rect_scan.overdue_scan(today=D("2026-10-30"))           # 15 working days
    # The scheduled job itself, on today's date: well past 30 working days after 10-10.
    scheduler = PlatformScheduler(settings, host)
    run = await scheduler.run_now("rectification.overdue_scan")
    assert run is not None and run.status == "ok", run.error if run else None

    [record] = await Record.all()
    assert (record.measure, record.points, record.revision) == ("circulate", Decimal("2.00"), 3)
    steps = await RecordHistory.filter(record=record).order_by("id")
    assert [(h.action, h.to_measure, h.event_key) for h in steps] == [
        ("proposed", "remind", f"rectification.overdue:{task.id}:1"),
        ("upgraded", "interview", f"rectification.overdue:{task.id}:15"),
        ("upgraded", "circulate", f"rectification.overdue:{task.id}:30")]

    # Scanning again announces nothing new; replaying the announced events changes nothing.
    taken = EventDelivery.filter(listener="accountability", status="delivered")
    before = (await Record.all().count(), await RecordHistory.all().count(), await taken.count())
    await rect_scan.overdue_scan(today=D("2026-12-31"))
    assert (await Record.all().count(), await RecordHistory.all().count(),
            await taken.count()) == before

    await services.approve(record.id)
    appeal = await appeals.submit(users["nm"], record.id, reasons="已按期整改，系统延迟登记",
                                  evidence_name="证明.pdf", evidence=PDF,
                                  evidence_dir=Path(tmp_path), max_bytes=10**6)
    await appeals.decide(appeal.id, "reduce", "情节较轻", "1.0")
    record = await Record.get(id=record.id)
    assert (record.status, record.points) == ("approved", Decimal("1.00"))


async def test_second_failed_verification_from_rectification(people, settings, host):
    actors, users = people
    nm = await rect_common.actor_for(users["nm"])
    task = await dispatched(actors, "路灯不亮")
    for n, day in ((1, "2026-10-09"), (2, "2026-10-13")):
        task = await rect_workflow.act(task.id, "respond", nm, {"version": task.version,
                                                                "note": "已修复"},
                                       now=at(day), files=[("a.pdf", PDF)], settings=settings)
        task = await rect_workflow.act(task.id, "verify", actors["admin"],
                                       {"version": task.version, "passed": False,
                                        "reason": f"第{n}次核查未通过"}, now=at(day))
    assert task.fail_count == 2
    [record] = await Record.all()
    assert (record.trigger_type, record.measure, record.trigger_detail["fail_count"]) == (
        "verification_failed", "circulate", 2)
    keys = [d.event.key for d in await EventDelivery.filter(listener="accountability")
            .order_by("id").select_related("event")]
    assert keys == [f"rectification.verification_failed:{task.id}:1",
                    f"rectification.verification_failed:{task.id}:2"]
