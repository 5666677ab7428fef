"""The overdue scan over more tasks than a 2,000-character id list holds: every task's
overdue mark is found in the trail (API and page) by the task's type and number."""

from __future__ import annotations

import datetime as dt
import re

from core import audit
from core.orgs import OrgUnit, Period
from plugins.rectification.models import Task
from plugins.rectification.scan import overdue_scan
from tests.conftest import login, make_user, seed_units

N = 1200  # every other task overdue: 600 scattered ids, far beyond 2,000 characters as a list
TODAY = dt.date(2026, 10, 12)


async def _tasks() -> list[Task]:
    await seed_units()
    unit = await OrgUnit.get(code="520102001")
    period = await Period.get(code="2014")
    at = dt.datetime(2026, 9, 1, 2, tzinfo=dt.UTC)
    await Task.bulk_create([
        Task(number=f"ZG2026-{i:06d}", period=period, source="grid", category="general",
             title=f"问题{i}", severity="general", unit=unit, status="dispatched",
             registered_at=at, dispatched_at=at,
             deadline=TODAY - dt.timedelta(days=3) if i % 2 else TODAY + dt.timedelta(days=20))
        for i in range(1, N + 1)], batch_size=500)
    return await Task.filter(deadline__lt=TODAY).order_by("id")


async def test_every_overdue_task_is_found_by_type_and_number(client):
    await make_user("adm", "admin")
    await login(client, "adm")
    late = await _tasks()
    assert len(",".join(str(t.id) for t in late)) > 2000
    with audit.acting_as("job:rectification.overdue_scan"):
        result = await overdue_scan(today=TODAY)
    assert result["marked_overdue"] == len(late) == N // 2
    for task in late:
        r = await client.get("/api/audit", params={
            "object_type": "rectification_task", "object_id": task.number,
            "action": "rectification.overdue_scan"})
        assert r.status_code == 200
        entries = r.json()["entries"]
        assert len(entries) == 1, task.number
        assert entries[0]["after"]["overdue"] is True
        assert entries[0]["after"]["overdue_since"] == "2026-10-10"
        assert entries[0]["actor"] == "job:rectification.overdue_scan"
    on_time = await Task.filter(deadline__gte=TODAY).first()
    r = await client.get("/api/audit", params={"object_type": "rectification_task",
                                               "object_id": on_time.number})
    assert r.json()["total"] == 0
    # The page, for the first and the last task (the last one fell off the cut list).
    for task in (late[0], late[-1]):
        r = await client.get("/audit", params={"object_type": "rectification_task",
                                               "object_id": task.number})
        assert r.status_code == 200
        assert task.number in r.text and "overdue_since" in r.text
        assert len(re.findall(r'<tr data-id="\d+">', r.text)) >= 1
    checked, broken, why = await audit.verify()
    assert broken is None, why
