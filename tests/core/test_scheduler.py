"""Run-once scheduler: two instances on one database, catch-up, failures, a lost database."""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from core.contrib import JobSpec
from core.scheduler import (
    PlatformScheduler,
    collect_jobs,
    latest_fire_between,
    make_trigger,
)
from core.scheduler_models import JobRun
from tests.conftest import BACKEND, _pg_exec

UTC = dt.UTC
SH = ZoneInfo("Asia/Shanghai")
ROOT = Path(__file__).resolve().parents[2]


def counting_job(job_id: str, trigger, ran: collections.Counter, fail_first: int = 0,
                 delay: float = 0.0) -> JobSpec:
    async def body(ctx):
        ran[ctx.scheduled_for] += 1
        if delay:
            await asyncio.sleep(delay)
        if ran.total() <= fail_first:
            raise RuntimeError(f"boom {ran.total()}")
        return {"at": ctx.scheduled_for}

    return JobSpec(job_id, body, trigger, "test job")


async def wait_for(predicate, timeout: float = 10.0, step: float = 0.05):
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(step)
    return False


# --- two instances, one database ------------------------------------------------------------

async def test_two_schedulers_claim_each_firing_once(db, settings, host):
    """Both instances are driven with the same 40 scheduled times at the same moment."""
    ran: collections.Counter = collections.Counter()
    spec = counting_job("core.tick", "* * * * *", ran, delay=0.005)
    a = PlatformScheduler(settings, host, instance="A", jobs=[spec])
    b = PlatformScheduler(settings, host, instance="B", jobs=[spec])
    base = dt.datetime(2024, 5, 1, 8, 0, tzinfo=SH)
    firings = [base + dt.timedelta(minutes=i) for i in range(40)]
    results = []
    for t in firings:
        results.append(await asyncio.gather(a.run_firing("core.tick", t),
                                            b.run_firing("core.tick", t)))
    rows = await JobRun.filter(job_id="core.tick").order_by("scheduled_for")
    assert len(rows) == 40
    assert [r.scheduled_for for r in rows] == [t.astimezone(UTC) for t in firings]
    assert all(r.status == "ok" for r in rows)
    assert sorted(ran.values()) == [1] * 40, "the job body ran more than once for a firing"
    for pair in results:  # exactly one of the two got each firing
        assert sum(r is not None for r in pair) == 1
    # A third, late instance finds every firing taken.
    c = PlatformScheduler(settings, host, instance="C", jobs=[spec])
    assert [await c.run_firing("core.tick", t) for t in firings[:5]] == [None] * 5
    assert ran.total() == 40


WORKER = textwrap.dedent("""
    import asyncio, datetime as dt, os, sys
    from apscheduler.triggers.cron import CronTrigger
    from core import db
    from core.boot import boot
    from core.contrib import JobSpec
    from core.scheduler import PlatformScheduler

    settings_path, name, out, seconds, start_at = sys.argv[1:6]

    async def tick(ctx):
        line = f"{ctx.scheduled_for.isoformat()} {name}\\n"
        fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
        await asyncio.sleep(0.05)
        return {"by": name}

    async def main():
        settings, host = boot(settings_path)
        await db.init_db(settings, host)
        try:
            spec = JobSpec("core.tick", tick, CronTrigger(second="*", timezone="Asia/Shanghai"))
            sched = PlatformScheduler(settings, host, instance=name, jobs=[spec])
            # Both workers start firing at the same wall-clock second.
            await asyncio.sleep(max(0.0, float(start_at) - dt.datetime.now().timestamp()))
            await sched.start(catch_up=False)
            await asyncio.sleep(float(seconds))
            await sched.shutdown()
        finally:
            await db.close_db()

    asyncio.run(main())
""")


async def test_two_scheduler_processes_real_time(db, settings, tmp_path):
    """Two OS processes fire a per-second job for 22 seconds on one database."""
    out = tmp_path / "ticks.txt"
    script = tmp_path / "worker.py"
    script.write_text(WORKER, encoding="utf-8")
    seconds = 22
    start_at = dt.datetime.now().timestamp() + 3.0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, str(script), str(settings.source), name, str(out),
                               str(seconds), str(start_at)], env=env, cwd=str(tmp_path),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for name in ("P1", "P2")]
    for p in procs:
        while p.poll() is None:
            await asyncio.sleep(0.2)
    for p in procs:
        err = p.stderr.read().decode()
        assert p.returncode == 0, err[-2000:]
        assert "Traceback" not in err, err[-2000:]
    lines = out.read_text().split()
    bodies = collections.Counter(lines[0::2])
    rows = await JobRun.filter(job_id="core.tick").order_by("scheduled_for")
    assert len(rows) >= 20, f"only {len(rows)} firings in {seconds}s"
    assert all(r.status == "ok" for r in rows), [(r.scheduled_for, r.error) for r in rows]
    assert len({r.scheduled_for for r in rows}) == len(rows)
    # The body ran exactly once for every recorded firing, and for no other.
    assert sorted(bodies.values()) == [1] * len(rows)
    assert {dt.datetime.fromisoformat(k).astimezone(UTC) for k in bodies} == {
        r.scheduled_for for r in rows}
    # No second was skipped between the first and the last firing.
    span = (rows[-1].scheduled_for - rows[0].scheduled_for).total_seconds()
    assert span == len(rows) - 1
    print(f"two processes: {len(rows)} firings, by instance "
          f"{collections.Counter(r.instance for r in rows)}")


async def test_real_time_firings_keep_coming(db, settings, host):
    """A per-second job fires again and again (APScheduler's instance count is released)."""
    ran: collections.Counter = collections.Counter()
    spec = counting_job("core.tick", IntervalTrigger(seconds=1), ran, fail_first=2)
    sched = PlatformScheduler(settings, host, instance="A", jobs=[spec])
    await sched.start(catch_up=False)
    try:
        assert await wait_for(lambda: _count_runs("core.tick", 4), timeout=8)
    finally:
        await sched.shutdown()
    rows = await JobRun.filter(job_id="core.tick").order_by("scheduled_for")
    assert [r.status for r in rows[:3]] == ["failed", "failed", "ok"]
    assert rows[0].error == "RuntimeError: boom 1"
    assert all(v == 1 for v in ran.values())


async def _count_runs(job_id: str, at_least: int) -> bool:
    return await JobRun.filter(job_id=job_id).exclude(status="running").count() >= at_least


# --- failures ---------------------------------------------------------------------------------

async def test_failing_job_is_recorded_and_next_firing_runs(db, settings, host):
    ran: collections.Counter = collections.Counter()
    spec = counting_job("core.flaky", "0 * * * *", ran, fail_first=1)
    sched = PlatformScheduler(settings, host, instance="A", jobs=[spec])
    t1 = dt.datetime(2024, 5, 1, 8, 0, tzinfo=SH)
    first = await sched.run_firing("core.flaky", t1)
    second = await sched.run_firing("core.flaky", t1 + dt.timedelta(hours=1))
    assert first.status == "failed" and first.error == "RuntimeError: boom 1"
    assert second.status == "ok" and second.changed == {"at": (t1 + dt.timedelta(hours=1))
                                                         .astimezone(UTC).isoformat()}
    stored = await JobRun.get(id=first.id)
    assert stored.status == "failed" and stored.finished_at is not None
    assert stored.error == "RuntimeError: boom 1"


async def _kill_database(db_url: str, dbfile_holder: dict) -> None:
    from tortoise import Tortoise

    if BACKEND == "postgres":
        name = db_url.rsplit("/", 1)[1]
        await _pg_exec(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await _pg_exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       f"WHERE datname = '{name}' AND pid <> pg_backend_pid()")
    else:
        # Point the connection at a database that is not there: the file moves away and
        # the reconnect finds an empty database without tables.
        path = Path(db_url[len("sqlite://"):])
        await Tortoise.get_connection("default").close()
        path.rename(path.with_suffix(".away"))
        dbfile_holder["path"] = path


async def _restore_database(db_url: str, dbfile_holder: dict) -> None:
    from tortoise import Tortoise

    if BACKEND == "postgres":
        name = db_url.rsplit("/", 1)[1]
        await _pg_exec(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    else:
        path = dbfile_holder["path"]
        await Tortoise.get_connection("default").close()
        for extra in ("", "-wal", "-shm"):
            Path(str(path) + extra).unlink(missing_ok=True)
        path.with_suffix(".away").rename(path)


async def test_lost_database_keeps_scheduler_running(db, db_url, settings, host):
    ran: collections.Counter = collections.Counter()
    spec = counting_job("core.tick", IntervalTrigger(seconds=1), ran)
    sched = PlatformScheduler(settings, host, instance="A", jobs=[spec])
    await sched.start(catch_up=False)
    holder: dict = {}
    try:
        assert await wait_for(lambda: _count_runs("core.tick", 2), timeout=8)
        await _kill_database(db_url, holder)
        try:
            before = ran.total()
            await asyncio.sleep(3.5)
            assert sched.running
            assert sched.db_failures >= 2, "the scheduler stopped firing"
            assert len(sched.unrecorded) >= 2
            assert ran.total() <= before + 1  # nothing runs unclaimed
            kept = [r["scheduled_for"] for r in sched.unrecorded if "id" not in r]
            assert kept and all(r["status"] == "failed" for r in sched.unrecorded)
        finally:
            await _restore_database(db_url, holder)
        assert await wait_for(lambda: _ok_after(kept[-1]), timeout=10)
    finally:
        await sched.shutdown()
    assert sched.unrecorded == []
    rows = {r.scheduled_for: r for r in await JobRun.filter(job_id="core.tick")}
    for t in kept:
        assert rows[t].status == "failed"
        assert rows[t].error.startswith("database unavailable")


async def _ok_after(t: dt.datetime) -> bool:
    # SQLite keeps datetimes as text in the configured zone: compare in that zone.
    try:
        return await JobRun.filter(job_id="core.tick", status="ok",
                                   scheduled_for__gt=t.astimezone(SH)).exists()
    except Exception:
        return False


# --- catch-up ---------------------------------------------------------------------------------

async def test_missed_firings_are_coalesced_into_one_run(db, settings, host):
    ran: collections.Counter = collections.Counter()
    spec = counting_job("core.minutely", "* * * * *", ran)
    now = dt.datetime(2024, 5, 1, 10, 30, 20, tzinfo=UTC)
    await JobRun.create(job_id="core.minutely", scheduled_for=now - dt.timedelta(minutes=12,
                                                                                 seconds=20),
                        status="ok")
    a = PlatformScheduler(settings, host, instance="A", jobs=[spec])
    b = PlatformScheduler(settings, host, instance="B", jobs=[spec])
    done = await asyncio.gather(a.catch_up(now), b.catch_up(now))
    assert sorted(done) == [[], ["core.minutely"]]
    rows = await JobRun.filter(job_id="core.minutely").order_by("scheduled_for")
    assert len(rows) == 2  # the old run and one catch-up for the 12 missed minutes
    assert rows[1].scheduled_for == dt.datetime(2024, 5, 1, 10, 30, tzinfo=UTC)
    assert ran.total() == 1
    assert await a.catch_up(now) == []  # nothing missed any more


async def test_catch_up_respects_the_grace_time(db, settings, host):
    ran: collections.Counter = collections.Counter()
    daily = counting_job("core.daily", "0 8 * * *", ran)  # 08:00 Shanghai = 00:00 UTC
    sched = PlatformScheduler(settings, host, instance="A", jobs=[daily])
    sched.grace = 3600
    # 00:40 UTC: the 08:00 firing was missed 40 minutes ago, within the hour of grace.
    assert await sched.catch_up(dt.datetime(2024, 5, 1, 0, 40, tzinfo=UTC)) == ["core.daily"]
    run = await JobRun.get(job_id="core.daily")
    assert run.scheduled_for == dt.datetime(2024, 5, 1, 0, 0, tzinfo=UTC)
    # Next day at 02:00 UTC the firing is two hours old: beyond the grace, not run.
    assert await sched.catch_up(dt.datetime(2024, 5, 2, 2, 0, tzinfo=UTC)) == []
    assert ran.total() == 1


async def test_start_catches_up_in_the_background(db, settings, host):
    ran: collections.Counter = collections.Counter()
    spec = counting_job("core.minutely", "* * * * *", ran)
    sched = PlatformScheduler(settings, host, instance="A", jobs=[spec])
    await sched.start(wait_catch_up=True)
    try:
        assert sched.catch_up_task.result() == ["core.minutely"]
        run = await JobRun.get(job_id="core.minutely")
        assert run.scheduled_for.second == 0 and run.status == "ok"
    finally:
        await sched.shutdown()


# --- manual runs, triggers, contributed jobs ---------------------------------------------------

async def test_manual_runs_never_take_a_scheduled_firing(db, settings, host):
    ran: collections.Counter = collections.Counter()
    spec = counting_job("core.tick", "* * * * *", ran)
    sched = PlatformScheduler(settings, host, instance="A", jobs=[spec])
    manual = await asyncio.gather(sched.run_now("core.tick"), sched.run_now("core.tick"))
    assert all(r.manual and r.status == "ok" for r in manual)
    whole = manual[0].scheduled_for.replace(microsecond=0)
    scheduled = await sched.run_firing("core.tick", whole)
    assert scheduled is not None and scheduled.status == "ok"
    assert await JobRun.filter(job_id="core.tick").count() == 3
    with pytest.raises(KeyError):
        await sched.run_now("core.nope")


def test_interval_triggers_agree_between_instances():
    first = make_trigger(IntervalTrigger(seconds=60), "Asia/Shanghai")
    second = make_trigger(IntervalTrigger(seconds=60), "Asia/Shanghai")
    now = dt.datetime.now(UTC)
    assert first.get_next_fire_time(None, now) == second.get_next_fire_time(None, now)
    assert first.get_next_fire_time(None, now).second == 0
    with pytest.raises(ValueError, match="jitter"):
        make_trigger(IntervalTrigger(seconds=60, jitter=5), "Asia/Shanghai")
    with pytest.raises(ValueError, match="cron rule '61 \\* \\* \\* \\*'"):
        make_trigger("61 * * * *", "Asia/Shanghai")


def test_latest_fire_between_is_exclusive_of_since():
    trigger = CronTrigger.from_crontab("*/10 * * * *", timezone=UTC)
    t0 = dt.datetime(2024, 1, 1, 0, 0, tzinfo=UTC)
    assert latest_fire_between(trigger, t0, t0 + dt.timedelta(minutes=9)) is None
    assert latest_fire_between(trigger, t0, t0 + dt.timedelta(minutes=35)) == t0 + dt.timedelta(
        minutes=30)


def test_contributed_jobs_are_checked(settings, host):
    jobs = collect_jobs(settings, host)
    assert {"core.mail", "core.digest"} <= set(jobs)

    from core.hookspecs import hookimpl

    class Bad:
        @staticmethod
        @hookimpl
        def kaohe_jobs(settings):
            async def body(ctx):
                return None
            return [JobSpec("other.x", body, "* * * * *")]

    host.pm.register(Bad, name="badjobs")
    try:
        with pytest.raises(ValueError, match="must start with 'badjobs.'"):
            collect_jobs(settings, host)
    finally:
        host.pm.unregister(name="badjobs")


# --- jobs API, page and CLI ---------------------------------------------------------------

async def test_jobs_api_lists_runs_and_runs_now(client):
    from core.audit import AuditEntry
    from tests.conftest import login, make_user

    await make_user("adm", "admin")
    await make_user("officer", "instructor")
    csrf = await login(client, "adm")
    r = await client.get("/api/jobs")
    assert r.status_code == 200
    jobs = {j["id"]: j for j in r.json()}
    assert jobs["core.mail"]["trigger"] == "* * * * *"
    assert jobs["core.digest"]["next_run"].endswith("T08:00:00+08:00")
    assert jobs["core.mail"]["last_run"] is None
    r = await client.post("/api/jobs/core.digest/run", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    run = r.json()
    assert run["status"] == "ok" and run["manual"] and run["changed"] == {"digests": [],
                                                                          "messages": 0}
    jobs = {j["id"]: j for j in (await client.get("/api/jobs")).json()}
    assert jobs["core.digest"]["last_run"]["status"] == "ok"
    runs = (await client.get("/api/jobs/core.digest/runs")).json()
    assert [x["id"] for x in runs] == [run["id"]]
    assert (await client.get("/api/jobs/core.digest/runs", params={"status": "failed"})).json() == []
    bad = await client.get("/api/jobs/core.digest/runs", params={"status": "weird"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "status"
    missing = await client.post("/api/jobs/core.nope/run", headers={"X-CSRF-Token": csrf})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_job"
    assert (await client.get("/api/jobs/core.nope/runs")).status_code == 404
    entry = await AuditEntry.filter(action="job.run_now").first()
    assert entry.actor == "adm" and entry.object_id == "core.digest"
    client.cookies.clear()
    await login(client, "officer")
    assert (await client.get("/api/jobs")).status_code == 403


async def test_job_runs_are_paged_in_the_database(client):
    from tests.conftest import login, make_user

    await make_user("adm", "admin")
    await login(client, "adm")
    start = dt.datetime(2026, 3, 1, 8, tzinfo=UTC)
    for n in range(7):
        at = start + dt.timedelta(minutes=n)
        await JobRun.create(job_id="core.mail", scheduled_for=at, started_at=at, finished_at=at,
                            status="failed" if n % 3 == 0 else "ok")
    await JobRun.create(job_id="core.digest", scheduled_for=start, started_at=start, status="ok")
    newest_first = [r.id for r in await JobRun.filter(job_id="core.mail").order_by("-started_at")]
    seen = []
    for page in (1, 2, 3):
        r = await client.get("/api/jobs/core.mail/runs", params={"size": 3, "page": page})
        assert r.status_code == 200, r.text
        assert (r.headers["X-Total-Count"], r.headers["X-Page"], r.headers["X-Page-Size"]) == (
            "7", str(page), "3")
        seen += [x["id"] for x in r.json()]
    assert seen == newest_first  # every run once, in order, and only this job's
    # Past the end: the last page, as the pages do.
    r = await client.get("/api/jobs/core.mail/runs", params={"size": 3, "page": 9})
    assert r.headers["X-Page"] == "3" and [x["id"] for x in r.json()] == newest_first[6:]
    # The status filter is counted too.
    r = await client.get("/api/jobs/core.mail/runs", params={"status": "failed", "size": 2})
    assert r.headers["X-Total-Count"] == "3" and len(r.json()) == 2
    assert {x["status"] for x in r.json()} == {"failed"}
    r = await client.get("/api/jobs/core.mail/runs", params={"size": 201})
    assert r.status_code == 400 and r.json()["error"]["field"] == "size"
    assert r.json()["error"]["message"] == "参数 size 无效：不能大于 200"
    # The page shows the whole count and pages the history with the filter kept.
    page = await client.get("/jobs", params={"job": "core.mail", "size": 20},
                            headers={"accept": "text/html"})
    assert page.status_code == 200 and "共 7 条" in page.text
    page = await client.get("/jobs", params={"size": 20}, headers={"accept": "text/html"})
    assert "共 8 条" in page.text
    await JobRun.bulk_create([
        JobRun(job_id="core.mail", scheduled_for=start + dt.timedelta(hours=1, minutes=n),
               started_at=start + dt.timedelta(hours=1, minutes=n), status="ok")
        for n in range(20)])
    page = await client.get("/jobs", params={"job": "core.mail", "size": 20, "page": 2},
                            headers={"accept": "text/html"})
    assert "共 27 条" in page.text and "第 2 / 2 页" in page.text
    assert "job=core.mail" in page.text.split('rel="prev"', 1)[1].split(">", 1)[0]


async def test_jobs_page_runs_a_job_with_csrf(client):
    from tests.conftest import login, make_user

    await make_user("adm", "admin")
    csrf = await login(client, "adm")
    page = await client.get("/jobs", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert 'action="/jobs/core.mail/run"' in page.text and "立即运行" in page.text
    r = await client.post("/jobs/core.mail/run", data={"_csrf": "forged"})
    assert r.status_code == 403 and await JobRun.all().count() == 0
    r = await client.post("/jobs/core.mail/run", data={"_csrf": csrf})
    assert r.status_code in (302, 303) and r.headers["location"].startswith("/jobs?job=core.mail")
    run = await JobRun.get(job_id="core.mail")
    assert run.manual and run.status == "ok"
    page = await client.get(r.headers["location"], headers={"accept": "text/html"})
    assert "任务 core.mail 已运行：成功" in page.text
    assert 'id="runs"' in page.text and "手动" in page.text


def test_jobs_cli(settings):
    def kaohe(*args):
        return subprocess.run([sys.executable, "-m", "core", "--settings", str(settings.source),
                               *args], capture_output=True, text=True, cwd=str(ROOT), timeout=120)

    listed = kaohe("jobs", "list")
    assert listed.returncode == 0, listed.stderr
    assert "core.mail" in listed.stdout and "core.digest" in listed.stdout
    ran = kaohe("jobs", "run", "core.digest")
    assert ran.returncode == 0, ran.stderr
    assert "core.digest: ok" in ran.stdout
    history = kaohe("jobs", "history", "core.digest")
    assert history.returncode == 0 and "core.digest" in history.stdout and "ok" in history.stdout
    unknown = kaohe("jobs", "run", "core.nope")
    assert unknown.returncode == 2 and "no job 'core.nope'" in unknown.stderr


async def test_standalone_scheduler_process_catches_up_and_stops_on_sigterm(db, settings):
    import signal

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "core", "--settings", str(settings.source), "scheduler",
        cwd=str(ROOT), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
        assert b"running" in line, line
        # The per-minute mail job's last firing was missed (never ran): caught up at start.
        assert await wait_for(lambda: JobRun.filter(job_id="core.mail").exists(), timeout=20)
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()[-2000:]
    assert b"stopping" in out
    run = await JobRun.get(job_id="core.mail")
    assert run.status == "ok" and not run.manual and run.scheduled_for.second == 0


async def test_runs_left_running_by_an_ended_process_are_marked_failed(db, settings, host):
    import socket

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    me = socket.gethostname()
    t = dt.datetime(2024, 5, 1, tzinfo=UTC)
    gone = await JobRun.create(job_id="core.x", scheduled_for=t, instance=f"{me}:{dead}")
    alive = await JobRun.create(job_id="core.x", scheduled_for=t + dt.timedelta(minutes=1),
                                instance=f"{me}:{os.getpid()}")
    elsewhere = await JobRun.create(job_id="core.x", scheduled_for=t + dt.timedelta(minutes=2),
                                    instance="otherhost:1")
    sched = PlatformScheduler(settings, host, jobs=[])
    assert await sched.reap_interrupted() == 1
    assert (await JobRun.get(id=gone.id)).status == "failed"
    assert (await JobRun.get(id=gone.id)).error.startswith("interrupted")
    assert (await JobRun.get(id=alive.id)).status == "running"
    assert (await JobRun.get(id=elsewhere.id)).status == "running"


async def test_app_lifespan_runs_the_scheduler(settings, host):
    import httpx

    from core.app import create_app, platform_lifespan
    from tests.conftest import login, make_user

    app = create_app(settings, host, run_scheduler=True)
    async with platform_lifespan(app):
        sched = app.state.scheduler
        assert sched.running
        await sched.catch_up_task  # core.mail fires every minute: its last firing is caught up
        assert await JobRun.filter(job_id="core.mail", manual=False).count() == 1
        await make_user("adm", "admin")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            csrf = await login(c, "adm")
            jobs = {j["id"]: j for j in (await c.get("/api/jobs")).json()}
            expected = sched.next_run("core.mail").astimezone(SH).isoformat()
            assert jobs["core.mail"]["next_run"] == expected
            assert jobs["core.mail"]["last_run"]["status"] == "ok"
            r = await c.post("/api/jobs/core.mail/run", headers={"X-CSRF-Token": csrf})
            assert r.status_code == 200 and r.json()["instance"] == sched.instance
    assert not sched.running


@pytest.mark.parametrize("wait_seconds, status", [(5.0, "ok"), (0.2, "failed")])
async def test_shutdown_waits_for_running_jobs(db, settings, host, wait_seconds, status):
    ran: collections.Counter = collections.Counter()
    spec = counting_job("core.slow", IntervalTrigger(seconds=1), ran, delay=1.5)
    sched = PlatformScheduler(settings, host, instance="A", jobs=[spec])
    await sched.start(catch_up=False)
    assert await wait_for(lambda: JobRun.filter(job_id="core.slow", status="running").exists())
    await sched.shutdown(wait_seconds=wait_seconds)
    assert not sched.running
    [run] = await JobRun.filter(job_id="core.slow")
    assert run.status == status and run.finished_at is not None
    if status == "failed":
        assert run.error == "interrupted: the scheduler was stopped"


async def test_a_refused_claim_does_not_abort_the_callers_transaction(db, settings, host):
    from tortoise.transactions import in_transaction

    from core.orgs import OrgUnit

    ran: collections.Counter = collections.Counter()
    spec = counting_job("core.tick", "* * * * *", ran)
    a = PlatformScheduler(settings, host, instance="A", jobs=[spec])
    t = dt.datetime(2024, 5, 1, 8, 0, tzinfo=SH)
    assert await a.run_firing("core.tick", t) is not None
    async with in_transaction():
        assert await a.run_firing("core.tick", t) is None
        await OrgUnit.create(code="T1", name="同一事务", level="city", path="/T1/")
    assert await OrgUnit.filter(code="T1").exists()
    assert ran.total() == 1


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_failed_runs_read_in_the_users_language(client, lang):
    """The stored error stays as the scheduler wrote it (the API and logs); the page says what
    happened in the reader's words and shows the technical detail as such."""
    from core import i18n
    from core.scheduler import DATABASE_UNAVAILABLE, INTERRUPTED_PROCESS
    from tests.conftest import login, make_user
    from tests.core.test_page_words import problems, visible_text

    start = dt.datetime(2026, 1, 5, 1, tzinfo=dt.UTC)
    stored = [INTERRUPTED_PROCESS, f"{DATABASE_UNAVAILABLE}OperationalError: gone",
              "RuntimeError: boom"]
    await JobRun.bulk_create([
        JobRun(job_id="core.mail", scheduled_for=start + dt.timedelta(minutes=n),
               started_at=start + dt.timedelta(minutes=n), status="failed", error=error)
        for n, error in enumerate(stored)])
    await make_user("adm", "admin")
    await login(client, "adm")
    client.cookies.set("lang", lang)
    page = (await client.get("/jobs", headers={"accept": "text/html"})).text
    for key in ("interrupted_process", "database", "crashed"):
        assert i18n.t(f"jobs.failure.{key}", lang) in page
    assert "<code>OperationalError: gone</code>" not in page  # the detail is kept whole
    assert f"<code>{DATABASE_UNAVAILABLE}OperationalError: gone</code>" in page
    assert "<code>RuntimeError: boom</code>" in page
    assert problems(visible_text(page), lang) == []
    api = (await client.get("/api/jobs/core.mail/runs")).json()
    assert sorted(r["error"] for r in api) == sorted(stored)
