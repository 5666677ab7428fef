"""APScheduler 3 with run-once firings.

Before a job body runs, its firing claims the row (job id, scheduled time) under a unique
constraint, so any number of instances on one database run each firing exactly once.
Firings missed while the platform was down are coalesced into one run at start-up when the
latest of them is within the grace time.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from tortoise.exceptions import IntegrityError, OperationalError

from core import audit
from core.contrib import JobSpec
from core.plugins import PluginHost
from core.scheduler_models import JobRun
from core.settings import Settings

log = logging.getLogger("kaohe.scheduler")


@dataclass
class JobContext:
    settings: Settings
    host: PluginHost
    job_id: str
    scheduled_for: dt.datetime
    manual: bool = False


def make_trigger(trigger: Any, tz: str) -> Any:
    if isinstance(trigger, str):
        try:
            return CronTrigger.from_crontab(trigger, timezone=ZoneInfo(tz))
        except ValueError as exc:
            raise ValueError(f"cron rule '{trigger}': {exc}") from None
    return trigger


def collect_jobs(settings: Settings, host: PluginHost) -> dict[str, JobSpec]:
    from core import notify

    jobs: dict[str, JobSpec] = {}
    specs = [("core", spec) for spec in notify.core_jobs(settings)]
    specs += host.collect("kaohe_jobs", settings=settings)
    for plugin, spec in specs:
        if not spec.id.startswith(f"{plugin}."):
            raise ValueError(f"job id '{spec.id}' of plugin '{plugin}' must start with '{plugin}.'")
        if spec.id in jobs:
            raise ValueError(f"job id '{spec.id}' is contributed twice")
        make_trigger(spec.trigger, settings.app.timezone)
        jobs[spec.id] = spec
    return jobs


class _ClaimingExecutor(AsyncIOExecutor):
    """Hands the coalesced scheduled time to the platform runner instead of calling the job."""

    def __init__(self, runner: PlatformScheduler):
        super().__init__()
        self._runner = runner

    def _do_submit_job(self, job, run_times):
        async def run():
            await self._runner.run_firing(job.id, run_times[-1])
            return []

        task = self._eventloop.create_task(run())
        self._pending_futures.add(task)
        task.add_done_callback(self._pending_futures.discard)


class PlatformScheduler:
    def __init__(self, settings: Settings, host: PluginHost, instance: str | None = None):
        self.settings = settings
        self.host = host
        self.instance = instance or f"{socket.gethostname()}:{os.getpid()}"
        self.jobs = collect_jobs(settings, host)
        self.tz = settings.app.timezone
        self._aps: AsyncIOScheduler | None = None

    async def start(self, catch_up: bool = True) -> None:
        self._aps = AsyncIOScheduler(timezone=ZoneInfo(self.tz),
                                     executors={"default": _ClaimingExecutor(self)})
        grace = self.settings.scheduler.misfire_grace_seconds
        for spec in self.jobs.values():
            self._aps.add_job(lambda: None, make_trigger(spec.trigger, self.tz), id=spec.id,
                              name=spec.description or spec.id, coalesce=True,
                              misfire_grace_time=grace, max_instances=1)
        self._aps.start()
        if catch_up:
            await self.catch_up()

    async def shutdown(self) -> None:
        if self._aps is not None and self._aps.running:
            self._aps.shutdown(wait=False)

    def next_run(self, job_id: str) -> dt.datetime | None:
        job = self._aps.get_job(job_id) if self._aps else None
        return job.next_run_time if job else None

    async def catch_up(self, now: dt.datetime | None = None) -> list[str]:
        """Run once, now, each job whose latest firing was missed within the grace time."""
        now = now or dt.datetime.now(dt.UTC)
        grace = dt.timedelta(seconds=self.settings.scheduler.misfire_grace_seconds)
        ran = []
        for spec in self.jobs.values():
            last = await JobRun.filter(job_id=spec.id, manual=False).order_by("-scheduled_for").first()
            since = max(last.scheduled_for if last else now - grace, now - grace)
            missed = latest_fire_between(make_trigger(spec.trigger, self.tz), since, now)
            if missed is not None:
                await self.run_firing(spec.id, missed)
                ran.append(spec.id)
        return ran

    async def run_firing(self, job_id: str, scheduled_for: dt.datetime,
                         manual: bool = False) -> JobRun | None:
        """Claim the firing, run the job, record the outcome. None if another instance has it."""
        spec = self.jobs[job_id]
        scheduled_for = scheduled_for.astimezone(dt.UTC).replace(microsecond=0)
        try:
            run = await JobRun.create(job_id=job_id, scheduled_for=scheduled_for, manual=manual,
                                      started_at=dt.datetime.now(dt.UTC), instance=self.instance)
        except IntegrityError:
            return None
        except (OperationalError, OSError, ConnectionError) as exc:
            # The database is gone: nothing can be claimed; log and wait for the next firing.
            log.error("job %s at %s: cannot claim the firing: %s", job_id, scheduled_for, exc)
            return None
        ctx = JobContext(self.settings, self.host, job_id, scheduled_for, manual)
        try:
            with audit.acting_as(f"job:{job_id}"):
                changed = await spec.func(ctx)
            run.status, run.changed = "ok", audit.canonical(changed or {})
        except Exception as exc:  # a failing job never stops the scheduler
            log.exception("job %s failed", job_id)
            run.status, run.error = "failed", f"{type(exc).__name__}: {exc}"
        run.finished_at = dt.datetime.now(dt.UTC)
        try:
            await run.save()
        except Exception as exc:
            log.error("job %s: could not record the run: %s", job_id, exc)
        return run

    async def run_now(self, job_id: str) -> JobRun | None:
        if job_id not in self.jobs:
            raise KeyError(job_id)
        return await self.run_firing(job_id, dt.datetime.now(dt.UTC), manual=True)


def latest_fire_between(trigger: Any, since: dt.datetime, until: dt.datetime) -> dt.datetime | None:
    """The latest fire time t of the trigger with since < t <= until."""
    latest, previous = None, None
    t = trigger.get_next_fire_time(None, since + dt.timedelta(seconds=1))
    while t is not None and t <= until:
        latest, previous = t, t
        t = trigger.get_next_fire_time(previous, t + dt.timedelta(seconds=1))
    return latest
