"""Daily overdue scan over 100,000 open rectification tasks, beside a per-row ORM loop.

The database is brought to the state it has after yesterday's scan (tasks already overdue
are marked and their thresholds announced), then copied. On one copy the job runs
`plugins.rectification.scan.overdue_scan(today)`: one set-based UPDATE marks the newly
overdue, one INSERT … SELECT and one UPDATE per threshold record the crossings, their events
go into the core event store in the same transaction as one batch, then the unit officers
are reminded. On the other copy a per-row loop does the same work through the ORM (load
every open task, save each change, create each notice and each stored event, remind). Both loops run over the full 100,000 rows — nothing is
extrapolated — and the two copies are compared afterwards to prove they did the same work.
Other plugins are disabled so their event listeners' cost is not counted.

    python bench/bench_rectification.py          # SQLite, and PostgreSQL when reachable
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

N_TASKS = int(os.environ.get("BENCH_RECT_TASKS", "100000"))
SET_RUNS = 3
# (label, day): an ordinary weekday crosses one calendar day of deadlines per threshold; the
# Monday after a weekend crosses 3, 1 and 6 days' worth (the 30-day cutoff jumps the May Day
# holiday), about three times the events.
SCENARIOS = [("weekday", dt.date(2026, 6, 17)), ("Monday after a weekend", dt.date(2026, 6, 15))]
TODAY = SCENARIOS[0][1]
YESTERDAY = TODAY - dt.timedelta(days=1)


def _set_day(day: dt.date) -> None:
    global TODAY, YESTERDAY
    TODAY, YESTERDAY = day, day - dt.timedelta(days=1)
PG_ADMIN = os.environ.get("KAOHE_TEST_PG", "postgres://postgres@127.0.0.1:5432/test")
OTHERS = ["coverage", "ranking", "accountability"]


def _boot(workdir: Path, url: str):
    from core.boot import boot

    workdir.mkdir(parents=True, exist_ok=True)
    settings = workdir / "settings.toml"
    settings.write_text(f'[database]\nurl = "{url}"\n[scheduler]\nenabled = false\n'
                        f'[plugins]\ndisabled = {OTHERS!r}\n'.replace("'", '"'), encoding="utf-8")
    return boot(str(settings))


async def _seed(settings, host) -> None:
    from tortoise.transactions import in_transaction

    from core import db
    from core.accounts import create_user
    from core.orgs import OrgUnit, ensure_period, ensure_unit
    from plugins.rectification.models import Task

    config = await db.init_db(settings, host)
    try:
        await db.migrate(config)
        await ensure_period("2026")
        city, _ = await ensure_unit("520100", "贵阳市", "city")
        units = []
        for d in range(10):
            district, _ = await ensure_unit(f"5201{d + 2:02d}", f"区{d}", "district", city)
            await create_user(f"officer{d}", "password1", "unit_officer", unit=district)
            for c in range(9):
                units.append((await ensure_unit(f"5201{d + 2:02d}{c:03d}", f"社区{d}-{c}",
                                                "community", district))[0])
        period = await ensure_period("2026")
        rnd = random.Random(2014)
        registered = dt.datetime(2026, 1, 5, 2, tzinfo=dt.UTC)
        rows = []
        for i in range(1, N_TASKS + 1):
            deadline = SCENARIOS[0][1] + dt.timedelta(days=rnd.randint(-90, 60))
            rows.append(Task(number=f"ZG2026-{i:06d}", period=period, source="grid",
                             category="general", title=f"问题{i}", severity="general",
                             unit=rnd.choice(units), responsible_person="张三",
                             status="dispatched", registered_at=registered,
                             dispatched_at=registered, deadline=deadline))
        async with in_transaction():
            await Task.bulk_create(rows, batch_size=5000)
        assert await OrgUnit.all().count() == 101
    finally:
        await db.close_db()


async def _yesterdays_state() -> None:
    """What yesterday's scan left: marks, levels, announced notices, reminders sent."""
    from tortoise import Tortoise
    from tortoise.expressions import F

    from core.calendar import WorkCalendar
    from plugins.rectification import scan
    from plugins.rectification.models import Task

    cal = await WorkCalendar.load()
    conn = Tortoise.get_connection("default")
    await scan.mark_overdue(conn, YESTERDAY)
    crossed: list = []
    await scan.record_crossings(conn, YESTERDAY, cal, [1, 15, 30], crossed)
    await scan.announce_crossings(conn, crossed, YESTERDAY, cal)  # the store is not empty
    soon = cal.add_working_days(YESTERDAY, 3)
    await Task.filter(deadline__gte=YESTERDAY, deadline__lte=soon).update(
        reminded_before=F("deadline"))
    await Task.filter(overdue=True).update(reminded_passed=F("deadline"))


async def _timed(settings, host, func) -> tuple[float, dict]:
    import plugins.rectification.scan  # noqa: F401  (loaded in a running server; not timed)
    from core import db

    await db.init_db(settings, host)
    try:
        started = time.perf_counter()
        result = await func()
        return time.perf_counter() - started, result
    finally:
        await db.close_db()


async def set_based() -> dict:
    from plugins.rectification.scan import overdue_scan

    return await overdue_scan(today=TODAY, reminder_days=3)


async def orm_loop() -> dict:
    """The same work row by row: what the scan would be without set-based statements."""
    from core.calendar import WorkCalendar
    from core.events_models import StoredEvent
    from plugins.rectification.common import officers_by_path, officers_for
    from plugins.rectification.config import current_definition
    from plugins.rectification.models import OverdueNotice, Task
    from plugins.rectification.scan import _tell, threshold_cutoff

    cal = await WorkCalendar.load()
    defn = await current_definition()
    cutoffs = {t: threshold_cutoff(cal, TODAY, t) for t in defn.overdue_thresholds}
    soon = cal.add_working_days(TODAY, 3)
    officers = await officers_by_path()
    marked = announced = 0
    told = {"before": 0, "passed": 0}
    per_user: dict[tuple[str, int], tuple] = {}
    for task in await Task.filter(status="dispatched").select_related("unit", "period"):
        changed = []
        if task.deadline < TODAY and not task.overdue:
            task.overdue, task.overdue_since = True, task.deadline + dt.timedelta(days=1)
            changed += ["overdue", "overdue_since"]
            marked += 1
        for days, cutoff in cutoffs.items():
            if task.deadline <= cutoff and task.overdue_level < days:
                await OverdueNotice.create(task=task, threshold=days, crossed_on=TODAY)
                task.overdue_level = days
                changed.append("overdue_level")
                await StoredEvent.create(
                    name="rectification.overdue", source="rectification",
                    occurred_at=dt.datetime.now(dt.UTC),
                    key=f"rectification.overdue:{task.id}:{days}",
                    payload={"task_id": task.id, "task_no": task.number, "title": task.title,
                             "unit_code": task.unit.code,
                             "responsible_person": task.responsible_person,
                             "deadline": task.deadline.isoformat(),
                             "days_overdue": cal.working_days_between(task.deadline, TODAY),
                             "threshold": days, "period": task.period.code,
                             "link": f"/rectification/tasks/{task.id}"})
                announced += 1
        for stage, due, column in (("before", TODAY <= task.deadline <= soon, "reminded_before"),
                                   ("passed", task.overdue, "reminded_passed")):
            if due and getattr(task, column) != task.deadline:
                for user in officers_for(task.unit.path, officers):
                    per_user.setdefault((stage, user.id), (user, []))[1].append(
                        {"id": task.id, "number": task.number, "title": task.title,
                         "deadline": task.deadline})
                setattr(task, column, task.deadline)
                changed.append(column)
        if changed:
            await task.save(update_fields=sorted(set(changed)))
    for (stage, _), (user, tasks) in per_user.items():  # one message per officer, as the job
        told[stage] += await _tell(user, stage, tasks, TODAY, cal)
    return {"marked_overdue": marked, "announced": announced, "reminded": told}


async def _state(settings, host) -> tuple:
    from core import db
    from core.events_models import StoredEvent
    from plugins.rectification.models import OverdueNotice, Task

    await db.init_db(settings, host)
    try:
        return (await Task.filter(overdue=True).count(),
                sorted(await Task.all().values_list("id", "overdue_level", "reminded_before",
                                                    "reminded_passed", "overdue_since")),
                await OverdueNotice.all().count(),
                sorted(await StoredEvent.all().values_list("key", "payload")))
    finally:
        await db.close_db()


def _copy_sqlite(url: str, name: str) -> str:
    src = url[len("sqlite://"):]
    dst = str(Path(src).with_name(name))
    shutil.copy(src, dst)
    return f"sqlite://{dst}"


async def _pg(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN.replace("postgres://", "postgresql://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _prepare(settings, host) -> None:
    from tortoise import Tortoise

    from core import db

    await db.init_db(settings, host)
    try:
        await _yesterdays_state()
        if db.dialect() == "postgres":
            # Yesterday's state was made in one sweep that rewrote most rows; a live database
            # gets there over months while autovacuum clears the dead row versions and
            # analyzes, so the copy is vacuumed as autovacuum would have left it.
            await Tortoise.get_connection("default").execute_script("VACUUM ANALYZE")
    finally:
        await db.close_db()


def bench(backend: str) -> list[dict]:
    work = Path(tempfile.mkdtemp(prefix=f"kaohe-bench-rect-{backend}-"))
    dbs: list[str] = []
    pg_base = PG_ADMIN.rsplit("/", 1)[0]

    def copy(src: str, label: str) -> str:
        if backend == "sqlite":
            return _copy_sqlite(src, f"{label}.sqlite3")
        name = f"{dbs[0]}_{label}"
        asyncio.run(_pg(f'CREATE DATABASE "{name}" TEMPLATE "{src.rsplit("/", 1)[1]}"'))
        # A day passes between two scans, and with it many checkpoints: the copy's pages
        # are written out before the timed scan, not while it runs.
        asyncio.run(_pg("CHECKPOINT"))
        dbs.append(name)
        return f"{pg_base}/{name}"

    out = []
    try:
        if backend == "sqlite":
            base = f"sqlite://{work}/base.sqlite3"
        else:
            name = f"kaohe_bench_rect_{os.getpid()}"
            asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}"'))
            asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
            dbs.append(name)
            base = f"{pg_base}/{name}"
        settings, host = _boot(work / "base", base)
        t0 = time.perf_counter()
        asyncio.run(_seed(settings, host))
        seeded = time.perf_counter() - t0
        for n, (label, day) in enumerate(SCENARIOS):
            _set_day(day)
            state = copy(base, f"s{n}")
            asyncio.run(_prepare(*_boot(work / f"s{n}", state)))
            # The scan changes its copy: each of its runs gets a fresh one; median reported.
            fast_runs = []
            for r in range(SET_RUNS):
                s_set, h_set = _boot(work / f"s{n}set{r}", copy(state, f"s{n}set{r}"))
                fast_runs.append(asyncio.run(_timed(s_set, h_set, set_based)))
            fast, got = sorted(fast_runs, key=lambda run: run[0])[len(fast_runs) // 2]
            s_loop, h_loop = _boot(work / f"s{n}loop", copy(state, f"s{n}loop"))
            slow, loop_got = asyncio.run(_timed(s_loop, h_loop, orm_loop))
            if asyncio.run(_state(s_set, h_set)) != asyncio.run(_state(s_loop, h_loop)):
                raise AssertionError(f"{label}: the set-based scan and the ORM loop left "
                                     f"different states")
            out.append({
                "name": f"rectification daily scan, {N_TASKS:,} open tasks, {label} "
                        f"{day.isoformat()} ({backend})",
                "seconds": fast, "baseline": slow, "ratio": fast / slow,
                "note": f"median of {SET_RUNS} scans, each on a fresh copy "
                        f"({', '.join(f'{t:.2f}' for t, _ in fast_runs)} s); "
                        f"baseline: per-row ORM loop over all {N_TASKS:,} open rows doing the "
                        f"same work in the same run, not extrapolated; both: "
                        f"{got['marked_overdue']} newly overdue, {got['announced']} threshold "
                        f"events (loop {loop_got['announced']}), "
                        f"{sum(got['reminded'].values())} reminder messages; end states "
                        f"compared equal; seeding {seeded:.0f} s"})
        return out
    finally:
        for name in reversed(dbs):
            asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        shutil.rmtree(work, ignore_errors=True)


def _pg_reachable() -> bool:
    try:
        asyncio.run(_pg("SELECT 1"))
        return True
    except Exception:
        return False


def run() -> list[dict]:
    rows = bench("sqlite")
    if _pg_reachable():
        rows += bench("postgres")
    return rows


if __name__ == "__main__":
    for r in run():
        print(f"{r['name']}: {r['seconds']:.3f} s vs baseline {r['baseline']:.3f} s "
              f"(ratio {r['ratio']:.3f}) — {r['note']}")
