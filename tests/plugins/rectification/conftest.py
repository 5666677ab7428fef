"""Fixtures for the rectification tests: a unit tree, users, an event listener, helpers."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import make_user, seed_units
from tests.plugins.rectification import listener

TZ = dt.timezone(dt.timedelta(hours=8))


def at(day: str, hour: int = 10) -> dt.datetime:
    """A moment in Asia/Shanghai on `day` (yyyy-mm-dd)."""
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=TZ)


@pytest.fixture(autouse=True)
def platform_day(request):
    """These tests tell a 2026 story with fixed dates: the platform clock is pinned to a day
    before its deadlines, so they do not depend on the day they run."""
    from core import clock

    if "booted" in request.fixturenames:
        request.getfixturevalue("booted")  # boot sets the clock from settings: pin after it
    clock.travel(dt.date(2026, 11, 20))
    yield
    clock.travel(None)


@pytest.fixture
def heard(host):
    """Domain events announced during the test."""
    listener.HEARD.clear()
    host.register("rect_test_listener", listener)
    yield listener.HEARD
    listener.HEARD.clear()


@pytest.fixture
async def people(db):
    """Units 520100 → 520102 (→ 520102001) and 520103; an admin, officers, a leader."""
    from core.orgs import ensure_period
    from plugins.rectification.common import actor_for

    await seed_units()
    await ensure_period("2026")
    users = {
        "admin": await make_user("admin1", "admin"),
        "nm": await make_user("nm_officer", "unit_officer", unit_code="520102"),
        "nm_comm": await make_user("hgy_officer", "unit_officer", unit_code="520102001"),
        "yy": await make_user("yy_officer", "unit_officer", unit_code="520103"),
        "leader": await make_user("leader1", "leader"),
        "instructor": await make_user("inst1", "instructor"),
    }
    return {k: await actor_for(u) for k, u in users.items()}


TASK = {"period": "2026", "source": "grid", "category": "general", "severity": "urgent",
        "title": "小区道路破损", "description": "路面坑洼", "unit": "520102001",
        "responsible_person": "张三"}


async def new_task(people, registered: str = "2026-09-29", **over):
    from plugins.rectification.workflow import register

    return await register(people["admin"], {**TASK, **over}, now=at(registered))


async def step(people, task, action: str, who: str = "admin", day: str = "2026-09-30",
               files=None, settings=None, **data):
    from plugins.rectification.workflow import act

    return await act(task.id, action, people[who], {"version": task.version, **data},
                     now=at(day), files=files, settings=settings)


PDF = b"%PDF-1.4\n% test evidence\n"


async def dispatched(people, day: str = "2026-09-30", **over):
    task = await new_task(people, **over)
    task = await step(people, task, "assess", day=day)
    return await step(people, task, "dispatch", day=day)


async def row(task_id: int) -> dict:
    """The stored row, for checking that a refused request changed nothing."""
    from core import audit
    from plugins.rectification.models import Task

    return audit.snapshot(await Task.get(id=task_id))
