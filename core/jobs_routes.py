"""Scheduled jobs for admins: the jobs page (with the event deliveries waiting), its API and
run-now."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Response, Template

from core import audit, events, events_admin, i18n, web
from core.errors import Invalid, NotFound
from core.paging import API_SIZE, DEFAULT_SIZE, paged, paged_headers, paginate
from core.params import PageNo, PageSize, Slug, choice
from core.roles import ADMIN_ONLY
from core.scheduler import PlatformScheduler, describe_trigger, next_fire_time
from core.scheduler_models import JobRun

ADMIN = {"roles": ADMIN_ONLY}
RUN_STATUSES = ("running", "ok", "failed")
RunStatus = choice(RUN_STATUSES)


def _scheduler(request: Request) -> PlatformScheduler:
    """The app's running scheduler, or a temporary one (a separate process schedules)."""
    running = getattr(request.app.state, "scheduler", None)
    if running is not None:
        return running
    state = request.app.state
    return PlatformScheduler(state.settings, state.host, instance=f"web:{id(state)}"[:100])


def _iso(value: dt.datetime | None, tz: str) -> str | None:
    return value.astimezone(ZoneInfo(tz)).isoformat() if value else None


class RunOut(msgspec.Struct):
    """One recorded run of a scheduled job; times in the platform's timezone."""
    id: int
    job_id: str
    scheduled_for: str | None
    started_at: str | None
    finished_at: str | None
    status: str  # running, ok, failed
    error: str | None
    changed: dict[str, Any] | None  # what the job reports it changed (counts by kind)
    instance: str | None  # the process that ran it
    manual: bool


class JobOut(msgspec.Struct):
    id: str
    description: str
    trigger: str
    next_run: str | None
    last_run: RunOut | None


def run_dict(run: JobRun, tz: str) -> RunOut:
    return RunOut(id=run.id, job_id=run.job_id, scheduled_for=_iso(run.scheduled_for, tz),
                  started_at=_iso(run.started_at, tz), finished_at=_iso(run.finished_at, tz),
                  status=run.status, error=run.error, changed=run.changed,
                  instance=run.instance, manual=bool(run.manual))


async def jobs_overview(request: Request) -> list[JobOut]:
    """Every job with its trigger, next run and last run."""
    state = request.app.state
    tz = state.settings.app.timezone
    sched = getattr(state, "scheduler", None)
    jobs = sched.jobs if sched else _scheduler(request).jobs
    out = []
    for spec in jobs.values():
        last = await JobRun.filter(job_id=spec.id).order_by("-started_at", "-id").first()
        nxt = sched.next_run(spec.id) if sched else next_fire_time(spec.trigger, tz)
        out.append(JobOut(id=spec.id, description=spec.description,
                          trigger=describe_trigger(spec.trigger), next_run=_iso(nxt, tz),
                          last_run=run_dict(last, tz) if last else None))
    return out


def _runs(job_id: str | None, status: str | None) -> Any:
    """Recorded runs, newest first (status is bounded at the boundary: RunStatus)."""
    qs = JobRun.all()
    if job_id:
        qs = qs.filter(job_id=job_id)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-started_at", "-id")


async def _run_now(request: Request, job_id: str) -> JobRun:
    sched = _scheduler(request)
    if job_id not in sched.jobs:
        raise NotFound("unknown_job", i18n.t("jobs.unknown", web.language(request), job=job_id),
                       field="job_id")
    await audit.record("job.run_now", "job", job_id)
    return await sched.run_now(job_id)  # the job's own changes are by "job:ID"


@get("/api/jobs", opt=ADMIN, tags=["platform"])
async def api_jobs(request: Request) -> list[JobOut]:
    """Every scheduled job: trigger, next run, last run with its status."""
    return await jobs_overview(request)


@get("/api/jobs/{job_id:str}/runs", opt=ADMIN, tags=["platform"],
     response_headers=paged_headers())
async def api_job_runs(request: Request, job_id: FromPath[str], status: RunStatus = None,
                       page: PageNo = 1, size: PageSize = API_SIZE) -> Response[list[RunOut]]:
    """Recorded runs of one job, newest first, one page at a time (headers X-Total-Count,
    X-Page, X-Page-Size); `status`: running, ok, failed."""
    pager = await paginate(_runs(job_id, status), page, size)
    # A job no longer scheduled still shows the runs it left.
    if not pager.total and job_id not in _scheduler(request).jobs:
        raise NotFound("unknown_job", i18n.t("jobs.unknown", web.language(request), job=job_id),
                       field="job_id")
    tz = request.app.state.settings.app.timezone
    return paged([run_dict(r, tz) for r in pager.items], pager)


@post("/api/jobs/{job_id:str}/run", opt=ADMIN, tags=["platform"], status_code=200)
async def api_job_run(request: Request, job_id: FromPath[str]) -> RunOut:
    """Run a job now; answers when it has finished, with the recorded run."""
    run = await _run_now(request, job_id)
    return run_dict(run, request.app.state.settings.app.timezone)


def failure_words(stored: str | None, lang: str) -> tuple[str, str]:
    """A failed run's error as (words in the user's language, technical detail or "")."""
    from core import scheduler as sched

    if not stored:
        return "", ""
    for prefix, key, detail in (
            (sched.INTERRUPTED_PROCESS, "interrupted_process", False),
            (sched.INTERRUPTED_STOP, "interrupted_stop", False),
            (sched.DATABASE_UNAVAILABLE, "database", True),
            (events.DELIVERY_FAILED, "deliveries", True)):
        if stored.startswith(prefix):
            return i18n.t(f"jobs.failure.{key}", lang), stored if detail else ""
    return i18n.t("jobs.failure.crashed", lang), stored


@get("/jobs", opt=ADMIN, include_in_schema=False)
async def jobs_page(request: Request, job: Slug = None, status: RunStatus = None,
                    page: PageNo = 1, size: PageSize = DEFAULT_SIZE) -> Template:
    pager = await paginate(_runs(job, status or None), page, size, request)
    tz = ZoneInfo(request.app.state.settings.app.timezone)
    waiting = events.undelivered()
    lang = web.language(request)
    return web.page(request, "jobs.html", jobs=await jobs_overview(request), pager=pager,
                    failure=lambda stored: failure_words(stored, lang), job_words=i18n.job_about,
                    runs=pager.items, size=pager.size, tz=tz,
                    selected=job or "", status=status or "", statuses=RUN_STATUSES,
                    scheduler_here=getattr(request.app.state, "scheduler", None) is not None,
                    deliveries=await waiting.order_by("-id").limit(EVENTS_SHOWN)
                    .select_related("event"),
                    deliveries_total=await waiting.count(), max_attempts=events.MAX_ATTEMPTS,
                    refused_total=(await events_admin.refused(limit=1))[1])


@post("/jobs/{job_id:str}/run", opt=ADMIN, include_in_schema=False)
async def jobs_run_form(request: Request, job_id: FromPath[str]) -> Redirect:
    from urllib.parse import quote

    lang = web.language(request)
    run = await _run_now(request, job_id)
    status = i18n.t(f"jobs.status_{run.status}", lang)
    msg = i18n.t("jobs.ran", lang, job=job_id, status=status)
    if run.error:
        words, detail = failure_words(run.error, lang)
        msg = f"{msg} ({words}{': ' + detail[:200] if detail else ''})"
    return Redirect(path=f"/jobs?job={quote(job_id)}&msg={quote(msg)}")


@post("/jobs/events/retry", opt=ADMIN, include_in_schema=False)
async def events_retry_form(request: Request, data: URLEncodedBody[dict[str, str]]) -> Redirect:
    """Retry one waiting delivery (`delivery`) or all of them, now."""
    from urllib.parse import quote

    lang = web.language(request)
    raw = (data.get("delivery") or "").strip()
    if raw and not (raw.isdigit() and 0 < int(raw) < 2**63):
        raise Invalid("invalid_delivery", i18n.t("events.bad_delivery", lang), field="delivery")
    ids = [int(raw)] if raw else None
    await audit.record("events.retry", "event_delivery", raw or "all")
    report = await events.schedule_retry(ids, host=request.app.state.host)
    msg = i18n.t("events.retried", lang, delivered=len(report.delivered),
                 failed=len(report.failed))
    if data.get("back") == "events":  # from the deliveries page (core.events_routes)
        return Redirect(path=f"/jobs/events?msg={quote(msg)}")
    return Redirect(path=f"/jobs?msg={quote(msg)}#events")


EVENTS_SHOWN = 50
HANDLERS = [api_jobs, api_job_runs, api_job_run, jobs_page, jobs_run_form, events_retry_form]
