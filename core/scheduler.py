"""APScheduler 3 with run-once firings.

Before a job body runs, its firing claims the row (job id, scheduled time) under a unique
constraint, so any number of instances on one database run each firing exactly once.
Firings missed while the platform was down are coalesced into one run at start-up when the
latest of them is within the grace time. A failing job is recorded and runs again at its next
firing; a lost database is logged, remembered in memory and recorded once it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import os
import re
import socket
import sys
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from core import audit, clock, events
from core.contrib import JobSpec
from core.plugins import PluginHost
from core.scheduler_models import JobRun
from core.settings import Settings, SettingsError

log = logging.getLogger("kaohe.scheduler")
UTC = dt.UTC
# Interval triggers made without a start date start at "now + interval", which differs per
# instance; anchoring them here gives every instance the same fire times.
INTERVAL_ANCHOR = dt.datetime(2000, 1, 1, tzinfo=UTC)
MAX_UNRECORDED = 1000
SHUTDOWN_WAIT_SECONDS = 30.0
# A failed run's stored words (kept in English for the API and logs; the jobs page reads them
# in the user's language through core.jobs_routes.failure_words).
INTERRUPTED_PROCESS = "interrupted: the process ended while the job ran"
INTERRUPTED_STOP = "interrupted: the scheduler was stopped"
DATABASE_UNAVAILABLE = "database unavailable: "


@dataclass
class JobContext:
    """What a job receives. `scheduled_for` is the firing on the machine's clock (the key of
    its run-once claim); `now` and `today` are that firing on the platform clock, so on a
    pinned instance jobs run on the pinned day. Jobs take their time from these."""

    settings: Settings
    host: PluginHost
    job_id: str
    scheduled_for: dt.datetime
    manual: bool = False

    @property
    def now(self) -> dt.datetime:
        return clock.on_platform(self.scheduled_for).astimezone(UTC)

    @property
    def today(self) -> dt.date:
        return clock.on_platform(self.scheduled_for).date()


WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]


def _crontab_weekdays(field: str) -> str:
    # APScheduler 3 reads weekday numbers with 0 = Monday; crontab means 0 (and 7) = Sunday.
    # Names are unambiguous to both.
    return re.sub(r"(?<![*/])\b\d+\b", lambda m: WEEKDAYS[int(m.group()) % 7], field)


def make_trigger(trigger: Any, tz: str) -> Any:
    """A cron string (in the platform's timezone unless told) or an APScheduler trigger object.

    Five fields are crontab (minute hour day month weekday, 0 or 7 = Sunday); six fields put
    seconds first, for fast checks in tests and demos.
    """
    if isinstance(trigger, str):
        fields = trigger.split()
        if len(fields) not in (5, 6):
            raise ValueError(f"cron rule '{trigger}': expected 5 fields (minute hour day month "
                             f"weekday) or 6 with seconds first, got {len(fields)}")
        second = fields.pop(0) if len(fields) == 6 else "0"
        try:
            return CronTrigger(second=second, minute=fields[0], hour=fields[1], day=fields[2],
                               month=fields[3], day_of_week=_crontab_weekdays(fields[4]),
                               timezone=ZoneInfo(tz))
        except ValueError as exc:
            raise ValueError(f"cron rule '{trigger}': {exc}") from None
    if getattr(trigger, "jitter", None):
        raise ValueError("a trigger with jitter fires at a different time on each instance")
    if isinstance(trigger, IntervalTrigger) and trigger.start_date.microsecond:
        return IntervalTrigger(seconds=trigger.interval_length, start_date=INTERVAL_ANCHOR,
                               end_date=trigger.end_date, timezone=trigger.timezone)
    return trigger


def describe_trigger(trigger: Any) -> str:
    if isinstance(trigger, str):
        return trigger
    if isinstance(trigger, IntervalTrigger):
        return f"every {int(trigger.interval_length)}s"
    return str(trigger)


class JobConfigError(SettingsError, ValueError):
    """A job list that cannot be scheduled: one line, naming the job and the setting."""


def _setting_holding(settings: Settings, value: Any) -> str:
    """The settings key whose value is this trigger, so the message says what to edit."""
    for section, keys in settings.raw.items():
        for key, item in (keys.items() if isinstance(keys, dict) else ()):
            if item == value:
                return f" (settings: {section}.{key})"
            if isinstance(item, dict) and value in item.values():
                name = next(k for k, v in item.items() if v == value)
                return f" (settings: {section}.{key}.{name})"
    return ""


def collect_jobs(settings: Settings, host: PluginHost) -> dict[str, JobSpec]:
    from core import notify

    jobs: dict[str, JobSpec] = {}
    specs = [("core", spec) for spec in notify.core_jobs(settings) + events.core_jobs(settings)]
    specs += host.collect("kaohe_jobs", settings=settings)
    overrides = dict(settings.scheduler.triggers)
    for plugin, spec in specs:
        if spec.id in overrides:
            spec = dataclasses.replace(spec, trigger=overrides.pop(spec.id))
        if not spec.id.startswith(f"{plugin}."):
            raise JobConfigError(f"job id '{spec.id}' of plugin '{plugin}' must start with '{plugin}.'")
        if spec.id in jobs:
            raise JobConfigError(f"job id '{spec.id}' is contributed twice")
        try:
            make_trigger(spec.trigger, settings.app.timezone)
        except ValueError as exc:
            raise JobConfigError(f"job '{spec.id}': {exc}"
                                 f"{_setting_holding(settings, spec.trigger)}") from None
        jobs[spec.id] = spec
    if overrides:
        raise JobConfigError(f"settings: scheduler.triggers: no job named {', '.join(sorted(overrides))} "
                         f"(known: {', '.join(sorted(jobs))})")
    return jobs


def next_fire_time(trigger: Any, tz: str, now: dt.datetime | None = None) -> dt.datetime | None:
    now = now or clock.machine_now()
    return make_trigger(trigger, tz).get_next_fire_time(None, now)


class _ClaimingExecutor(AsyncIOExecutor):
    """Hands the coalesced scheduled time to the platform runner instead of calling the job."""

    def __init__(self, runner: PlatformScheduler):
        super().__init__()
        self._runner = runner

    def _do_submit_job(self, job, run_times):
        run_time = run_times[-1]
        late = clock.machine_now() - run_time
        grace = job.misfire_grace_time

        async def run():
            if grace is not None and late > dt.timedelta(seconds=grace):
                log.warning("job %s: firing at %s missed by %s, beyond the grace time",
                            job.id, run_time, late)
                return [JobExecutionEvent(EVENT_JOB_MISSED, job.id, job._jobstore_alias, run_time)]
            await self._runner.run_firing(job.id, run_time)
            return []

        def done(task):
            # The base class counts running instances; without this the job would be
            # skipped as "maximum number of running instances reached" after one firing.
            self._pending_futures.discard(task)
            if task.cancelled():
                self._run_job_success(job.id, [])
                return
            exc = task.exception()
            if exc is not None:
                self._run_job_error(job.id, exc, exc.__traceback__)
            else:
                self._run_job_success(job.id, task.result())

        task = self._eventloop.create_task(run())
        task.add_done_callback(done)
        self._pending_futures.add(task)
        self._runner.track(task)


class PlatformScheduler:
    """One per process. `jobs` overrides the jobs collected from core and the plugins."""

    def __init__(self, settings: Settings, host: PluginHost, instance: str | None = None,
                 jobs: dict[str, JobSpec] | list[JobSpec] | None = None):
        self.settings = settings
        self.host = host
        self.instance = (instance or f"{socket.gethostname()}:{os.getpid()}")[:100]
        if jobs is None:
            jobs = collect_jobs(settings, host)
        elif not isinstance(jobs, dict):
            jobs = {spec.id: spec for spec in jobs}
        self.jobs: dict[str, JobSpec] = jobs
        self.tz = settings.app.timezone
        self.grace = settings.scheduler.misfire_grace_seconds
        self._aps: AsyncIOScheduler | None = None
        self._running: set[asyncio.Task] = set()
        self.catch_up_task: asyncio.Task | None = None
        # Runs the database could not take; written once it is reachable again.
        self.unrecorded: list[dict[str, Any]] = []
        self.db_failures = 0

    def track(self, task: asyncio.Task) -> None:
        """Shutdown waits for these (scheduled firings and the catch-up)."""
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    @property
    def running(self) -> bool:
        return self._aps is not None and self._aps.running

    async def start(self, catch_up: bool = True, wait_catch_up: bool = False) -> None:
        """Start firing. Catch-up runs in the background unless `wait_catch_up`."""
        self._aps = AsyncIOScheduler(timezone=ZoneInfo(self.tz),
                                     executors={"default": _ClaimingExecutor(self)})
        for spec in self.jobs.values():
            self._aps.add_job(_never_called, make_trigger(spec.trigger, self.tz), id=spec.id,
                              name=spec.description or spec.id, coalesce=True,
                              misfire_grace_time=self.grace, max_instances=1)
        self._aps.start()
        await self.reap_interrupted()
        if catch_up:
            self.catch_up_task = asyncio.create_task(self.catch_up())
            self.track(self.catch_up_task)
            if wait_catch_up:
                await self.catch_up_task

    async def shutdown(self, wait_seconds: float = SHUTDOWN_WAIT_SECONDS) -> None:
        """Stop firing, let running jobs finish (up to `wait_seconds`), then stop."""
        if self._aps is None or not self._aps.running:
            return
        self._aps.pause()
        pending = [t for t in self._running if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=wait_seconds)
        for task in pending:  # still running after the wait: interrupted (and recorded so)
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        self._aps.shutdown(wait=False)
        await asyncio.sleep(0)  # the APScheduler shutdown is scheduled on the loop

    def next_run(self, job_id: str) -> dt.datetime | None:
        job = self._aps.get_job(job_id) if self._aps else None
        if job is not None:
            return job.next_run_time
        spec = self.jobs.get(job_id)
        return next_fire_time(spec.trigger, self.tz) if spec else None

    async def reap_interrupted(self) -> int:
        """Mark as failed the runs left "running" by a process of this host that has ended."""
        host = socket.gethostname()
        reaped = 0
        try:
            rows = await JobRun.filter(status="running", instance__startswith=f"{host}:")
            for run in rows:
                pid = run.instance.rpartition(":")[2]
                if not pid.isdigit() or _alive(int(pid)):
                    continue
                reaped += await JobRun.filter(id=run.id, status="running").update(
                    status="failed", error=INTERRUPTED_PROCESS)
        except Exception as exc:
            log.error("cannot check for interrupted runs: %s", exc)
        return reaped

    async def catch_up(self, now: dt.datetime | None = None) -> list[str]:
        """Run once, now, each job whose latest firing was missed within the grace time.

        Returns the jobs this instance ran (another instance may have taken some)."""
        now = now or clock.machine_now()  # firings and their claims are machine time
        grace = dt.timedelta(seconds=self.grace)
        ran = []
        for spec in self.jobs.values():
            try:
                last = await JobRun.filter(job_id=spec.id, manual=False).order_by(
                    "-scheduled_for").first()
            except Exception as exc:
                log.error("catch-up of %s: the database is not reachable: %s", spec.id, exc)
                continue
            since = max(last.scheduled_for if last else now - grace, now - grace)
            missed = latest_fire_between(make_trigger(spec.trigger, self.tz), since, now)
            if missed is not None:
                log.info("catch-up: %s missed its firing at %s; running it now", spec.id, missed)
                if await self.run_firing(spec.id, missed) is not None:
                    ran.append(spec.id)
        return ran

    async def run_firing(self, job_id: str, scheduled_for: dt.datetime,
                         manual: bool = False) -> JobRun | None:
        """Claim the firing, run the job, record the outcome. None if another instance has it."""
        spec = self.jobs[job_id]
        scheduled_for = scheduled_for.astimezone(UTC)
        if not manual:
            scheduled_for = scheduled_for.replace(microsecond=0)
        await self.flush_unrecorded()
        started = clock.machine_now()
        try:
            run = await self._claim(job_id, scheduled_for, manual, started)
        except Exception as exc:
            # The database is gone: the firing cannot be claimed, so it must not run here.
            self.db_failures += 1
            error = f"{DATABASE_UNAVAILABLE}{type(exc).__name__}: {exc}"
            log.error("job %s at %s not run: %s", job_id, scheduled_for.isoformat(), error)
            return self._remember(job_id, scheduled_for, manual, started, error)
        if run is None:
            log.debug("job %s at %s is run by another instance", job_id, scheduled_for)
            return None
        ctx = JobContext(self.settings, self.host, job_id, scheduled_for, manual)
        try:
            with audit.acting_as(f"job:{job_id}"), events.watching() as deliveries:
                changed = await spec.func(ctx)
            run.status, run.changed = "ok", audit.canonical(changed or {})
            if deliveries.failed:  # the job's work stands; a listener did not take its events
                run.status, run.error = "failed", deliveries.failure_text()
        except asyncio.CancelledError:
            run.status, run.error = "failed", INTERRUPTED_STOP
            run.finished_at = clock.machine_now()
            await self._save(run)
            raise
        except Exception as exc:  # a failing job never stops the scheduler
            log.exception("job %s failed", job_id)
            run.status, run.error = "failed", f"{type(exc).__name__}: {exc}"
        run.finished_at = clock.machine_now()
        await self._save(run)
        return run

    async def _claim(self, job_id: str, scheduled_for: dt.datetime, manual: bool,
                     started: dt.datetime) -> JobRun | None:
        for _ in range(3 if manual else 1):
            try:
                # Its own transaction, or a savepoint when the caller holds one: a refused
                # claim never aborts a surrounding PostgreSQL transaction.
                async with in_transaction():
                    return await JobRun.create(job_id=job_id, scheduled_for=scheduled_for,
                                               manual=manual, started_at=started,
                                               instance=self.instance)
            except IntegrityError:
                if not manual:
                    return None
                # Two manual runs in the same microsecond: both still run.
                scheduled_for += dt.timedelta(microseconds=1)
        return None

    async def _save(self, run: JobRun) -> None:
        try:
            await run.save()
        except Exception as exc:
            self.db_failures += 1
            log.error("job %s: could not record the run (kept until the database is back): %s",
                      run.job_id, exc)
            self._keep({"id": run.id, "status": run.status, "error": run.error,
                        "changed": run.changed, "finished_at": run.finished_at})

    def _remember(self, job_id: str, scheduled_for: dt.datetime, manual: bool,
                  started: dt.datetime, error: str) -> JobRun:
        fields = {"job_id": job_id, "scheduled_for": scheduled_for, "manual": manual,
                  "started_at": started, "finished_at": clock.machine_now(),
                  "status": "failed", "error": error[:2000], "instance": self.instance}
        self._keep(fields)
        return JobRun(**fields)

    def _keep(self, record: dict[str, Any]) -> None:
        self.unrecorded.append(record)
        if len(self.unrecorded) > MAX_UNRECORDED:
            dropped = self.unrecorded.pop(0)
            log.error("dropping the oldest unrecorded run of %s", dropped.get("job_id", "?"))

    async def flush_unrecorded(self) -> int:
        """Write the runs kept while the database was away; stops at the first failure."""
        written = 0
        while self.unrecorded:
            record = self.unrecorded[0]
            try:
                if "id" in record:
                    values = {k: v for k, v in record.items() if k != "id"}
                    await JobRun.filter(id=record["id"]).update(**values)
                else:
                    await JobRun.create(**record)
            except IntegrityError:
                pass  # another instance ran or recorded that firing: its row is the truth
            except Exception:
                return written
            self.unrecorded.pop(0)
            written += 1
        if written:
            log.info("recorded %d runs kept while the database was unavailable", written)
        return written

    async def run_now(self, job_id: str) -> JobRun:
        """Run a job at once, outside its schedule (recorded as a manual run)."""
        if job_id not in self.jobs:
            raise KeyError(job_id)
        now = clock.machine_now()
        if now.microsecond == 0:  # scheduled firings own whole seconds
            now = now.replace(microsecond=1)
        run = await self.run_firing(job_id, now, manual=True)
        assert run is not None
        return run


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _never_called() -> None:  # pragma: no cover - the claiming executor runs jobs itself
    print("kaohe: a scheduler job bypassed the claiming executor", file=sys.stderr)


def latest_fire_between(trigger: Any, since: dt.datetime, until: dt.datetime) -> dt.datetime | None:
    """The latest fire time t of the trigger with since < t <= until."""
    step = dt.timedelta(microseconds=1)
    latest = None
    t = trigger.get_next_fire_time(None, since + step)
    while t is not None and t <= until:
        latest = t
        t = trigger.get_next_fire_time(t, t + step)
    return latest
