"""The platform clock: one source of now/today, pinnable, timezone from settings only."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from core import clock
from core.boot import boot
from core.settings import SettingsError
from tests.conftest import write_settings

ROOT = Path(__file__).resolve().parents[2]
DIRECT = re.compile(r"datetime\.now\(|date\.today\(|datetime\.utcnow\(|ZoneInfo\(\"Asia/Shanghai\"\)")


def test_no_direct_clock_reads_outside_core_clock():
    offenders = []
    for path in [*ROOT.joinpath("core").rglob("*.py"), *ROOT.joinpath("plugins").rglob("*.py")]:
        if path.name == "clock.py" and path.parent.name == "core":
            continue
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if DIRECT.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{no}: {line.strip()}")
    assert offenders == []


def test_pinned_day_keeps_time_of_day_and_zone():
    try:
        clock.configure("Asia/Shanghai", "2014-12-31")
        assert clock.today() == dt.date(2014, 12, 31)
        assert clock.pinned() == dt.date(2014, 12, 31)
        assert clock.local_now().date() == dt.date(2014, 12, 31)
        assert clock.now().tzinfo is dt.UTC
        clock.travel(dt.date(2014, 3, 2))
        assert clock.today() == dt.date(2014, 3, 2)
    finally:
        clock.configure("Asia/Shanghai", None)
    assert clock.pinned() is None
    assert abs((clock.now() - dt.datetime.now(dt.UTC)).total_seconds()) < 5


def test_timezone_comes_from_settings(tmp_path):
    path = write_settings(tmp_path, "sqlite://:memory:")
    try:
        boot(str(path), environ={"KAOHE_APP__TIMEZONE": "Europe/Berlin"})
        assert clock.tz().key == "Europe/Berlin"
        with pytest.raises(SettingsError, match="app.timezone: unknown timezone 'Mars/Base'"):
            boot(str(path), environ={"KAOHE_APP__TIMEZONE": "Mars/Base"})
    finally:
        clock.configure("Asia/Shanghai")


@pytest.mark.parametrize("value, message", [
    ("2014-13-01", "settings: app.today: '2014-13-01' is not a date (yyyy-mm-dd)"),
    ("yesterday", "settings: app.today: 'yesterday' is not a date (yyyy-mm-dd)"),
])
def test_bad_pinned_day_is_a_start_up_error(tmp_path, value, message):
    path = write_settings(tmp_path, "sqlite://:memory:")
    with pytest.raises(SettingsError) as err:
        boot(str(path), environ={"KAOHE_APP__TODAY": value})
    assert str(err.value) == message
    clock.configure("Asia/Shanghai")


def test_pinned_day_from_environment(tmp_path):
    path = write_settings(tmp_path, "sqlite://:memory:")
    try:
        boot(str(path), environ={"KAOHE_APP__TODAY": '"2014-06-30"'})
        assert clock.today() == dt.date(2014, 6, 30)
        boot(str(path), environ={"KAOHE_APP__TODAY": "2014-07-01"})  # a bare TOML date
        assert clock.today() == dt.date(2014, 7, 1)
    finally:
        clock.configure("Asia/Shanghai")


@pytest.fixture
def pinned():
    """Travel the clock for one test; back to the real clock afterwards."""
    yield clock.travel
    clock.travel(None)


async def test_every_page_header_says_the_pinned_day(client, pinned):
    from tests.conftest import login, make_user

    r = await client.get("/login")
    assert 'id="pinned-day"' not in r.text  # the real clock: no banner
    pinned(dt.date(2014, 12, 31))
    r = await client.get("/login")
    assert '<span class="pinned-day" id="pinned-day"' in r.text and "演示日期 2014-12-31" in r.text
    await make_user("admin1", "admin")
    await login(client, "admin1")
    for path in ("/", "/jobs", "/audit"):
        r = await client.get(path)
        assert r.status_code == 200 and "演示日期 2014-12-31" in r.text, path
    await client.get("/lang/en")
    r = await client.get("/")
    assert "Demo date 2014-12-31" in r.text and "演示日期" not in r.text
    # A pinned year the calendar does not know is the dashboard's warning, as for today's.
    pinned(dt.date(2027, 3, 1))
    await login(client, "admin1")  # years later, the 2014 session has long expired
    await client.get("/lang/zh")
    r = await client.get("/")
    assert "演示日期 2027-03-01" in r.text and "2027年节假日安排未载入" in r.text


async def test_stored_stamps_follow_the_pinned_clock(db, pinned):
    """Tortoise's own auto_now_add / auto_now stamps come from the platform clock."""
    from tests.conftest import make_user

    pinned(dt.date(2014, 5, 6))
    user = await make_user("clerk", "admin")
    assert clock.localize(user.created_at).date() == dt.date(2014, 5, 6)
    pinned(None)
    other = await make_user("clerk2", "admin")
    assert clock.localize(other.created_at).date() == clock.today() != dt.date(2014, 5, 6)


async def test_jobs_run_on_the_pinned_day(db, settings, host, pinned):
    """The scheduler fires and claims by the machine's clock; what the job sees is the same
    moment on the platform clock, so a pinned instance's jobs run on its day, every day."""
    from core.contrib import JobSpec
    from core.scheduler import PlatformScheduler
    from core.scheduler_models import JobRun

    seen = []

    async def probe(ctx):
        seen.append((ctx.today, ctx.now, clock.today()))
        return {"today": ctx.today.isoformat()}

    pinned(dt.date(2014, 12, 31))
    sched = PlatformScheduler(settings, host, jobs=[JobSpec("core.probe", probe, "30 1 * * *")])
    machine = clock.machine_now()
    assert machine.year != 2014
    first = machine.replace(hour=17, minute=30, second=0, microsecond=0)  # 01:30 Shanghai
    for fired in (first, first + dt.timedelta(days=1)):  # two machine days: both run
        run = await sched.run_firing("core.probe", fired)
        assert run is not None and run.status == "ok", run
        assert run.changed == {"today": "2014-12-31"}
    assert [s[0] for s in seen] == [dt.date(2014, 12, 31)] * 2
    assert all(s[2] == dt.date(2014, 12, 31) for s in seen)
    assert [clock.localize(s[1]).strftime("%m-%d %H:%M") for s in seen] == ["12-31 01:30"] * 2
    runs = await JobRun.filter(job_id="core.probe").order_by("scheduled_for")
    assert [r.scheduled_for for r in runs] == [first, first + dt.timedelta(days=1)]
    manual = await sched.run_now("core.probe")
    assert manual.status == "ok" and seen[-1][0] == dt.date(2014, 12, 31)


async def test_rectification_scan_job_scans_the_pinned_day(db, settings, host, pinned):
    from core.scheduler import PlatformScheduler

    pinned(dt.date(2014, 12, 31))
    run = await PlatformScheduler(settings, host).run_now("rectification.overdue_scan")
    assert run.status == "ok", run.error
    assert run.changed["date"] == "2014-12-31"
