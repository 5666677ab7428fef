"""Firing report subscriptions: build each workbook once, archive it with its SHA-256, mail it
to every recipient through the platform's mail queue, log each delivery and follow it.

Mail goes through core's queue (core.notify_models.MailMessage, sent with retries and
back-off by core's mailer); each Delivery row mirrors its message's state, and a delivery
that failed for good is reported to the admins once.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any

from tortoise.exceptions import IntegrityError

from core import audit, clock, notify
from core.accounts import User
from core.archive import ReportFile, file_path
from core.calendar import WorkCalendar
from core.contrib import ExportRequest
from core.errors import Invalid, KaoheError
from core.notify_models import MailMessage
from plugins.ranking import config, models
from plugins.ranking.subscriptions import (
    Recipient,
    all_exporters,
    due_times,
    next_times,
    resolve_period,
    resolve_recipients,
)

log = logging.getLogger("kaohe.ranking.reports")
UTC = dt.UTC
_UNSAFE = re.compile(r"[^\w.\-]+", re.UNICODE)


@dataclass(frozen=True)
class FileSpec:
    """One workbook a firing builds: the same spec is built once, whoever gets it."""

    exporter: str
    period: str
    group: str = ""
    unit: str = ""

    @property
    def filename(self) -> str:
        parts = [self.exporter, self.period, self.group, self.unit]
        # A document exporter (通报) is attached as .docx, a workbook as .xlsx.
        exporter = all_exporters().get(self.exporter)
        extension = exporter.extension if exporter is not None else ".xlsx"
        return _UNSAFE.sub("_", "_".join(p for p in parts if p)) + extension


def plan(sub: models.Subscription, period: str, recipients: list[Recipient]
         ) -> tuple[FileSpec, dict[str, list[FileSpec]]]:
    """The main workbook, and for each recipient the workbooks they get."""
    main = FileSpec(sub.exporter, period, sub.group, sub.unit)
    per: dict[str, list[FileSpec]] = {}
    for r in recipients:
        files = [main]
        if r.detail_unit and sub.detail_group:
            files.append(FileSpec(sub.exporter, period, sub.detail_group, r.detail_unit))
        per[r.label] = files
    return main, per


def request_of(spec: FileSpec) -> ExportRequest:
    return ExportRequest(period=spec.period, unit=spec.unit or None, group=spec.group or None)


async def build(spec: FileSpec) -> bytes:
    """Build through the platform's exporter registry (any plugin's exporter, by name)."""
    from core.exports import build_export

    return await build_export(spec.exporter, request_of(spec))


async def archive(settings: Any, spec: FileSpec, data: bytes) -> ReportFile:
    """Store a built workbook in the report archive with its SHA-256; the exporter's roles
    decide who may download it."""
    from core.exports import archive_export

    return await archive_export(spec.exporter, request_of(spec), data,
                                created_by=audit.current_actor(), settings=settings)


async def fire(settings: Any, sub: models.Subscription, scheduled_for: dt.datetime,
               manual: bool = False) -> models.Firing | None:
    """Run one firing; None when another instance already claimed it."""
    scheduled_for = scheduled_for.astimezone(UTC).replace(microsecond=0)
    try:
        firing = await models.Firing.create(subscription=sub, scheduled_for=scheduled_for,
                                            manual=manual)
    except IntegrityError:
        return None
    try:
        await _run(settings, sub, firing)
    except Exception as exc:  # a broken exporter or rule is logged and reported, never raised
        if isinstance(exc, KaoheError):  # expected (no published ranking yet, …): no traceback
            log.warning("report subscription %s failed: %s", sub.key, exc.message)
        else:
            log.exception("report subscription %s failed", sub.key)
        firing.status, firing.error = "failed", _describe(exc)
        await _tell_admins(f"定时报表发送失败：{sub.title}",
                           f"订阅 {sub.key} 于 {_local(scheduled_for)} 的发送失败：{firing.error}",
                           key=f"ranking.firing.failed:{firing.id}")
    firing.finished_at = clock.now()
    await firing.save()
    if not manual:
        await models.Subscription.filter(id=sub.id).update(last_fired_for=scheduled_for)
    await audit.record("ranking.report.fire", "ranking_firing", firing.id, after={
        "subscription": sub.key, "scheduled_for": scheduled_for, "period": firing.period,
        "status": firing.status, "reports": firing.report_ids, "error": firing.error})
    await report_failures()
    return firing


async def _run(settings: Any, sub: models.Subscription, firing: models.Firing) -> None:
    firing.period = await resolve_period(sub, firing.scheduled_for)
    recipients = await resolve_recipients(sub)
    main, per = plan(sub, firing.period, recipients)
    # The main workbook must exist or nobody gets anything; a missing detail (say, a
    # district whose communities are not ranked yet) costs only that detail.
    built: dict[FileSpec, ReportFile] = {main: await archive(settings, main, await build(main))}
    failed: dict[FileSpec, str] = {}
    for spec in sorted({f for files in per.values() for f in files} - {main},
                       key=lambda f: f.filename):
        try:
            built[spec] = await archive(settings, spec, await build(spec))
        except Exception as exc:
            failed[spec] = _describe(exc)
    firing.report_ids = [r.id for r in built.values()]
    problems: list[str] = []
    for r in recipients:
        for spec in per[r.label]:
            report = built.get(spec)
            problem = r.problem or (f"{spec.filename}: {failed[spec]}" if spec in failed else "")
            if problem:
                await models.Delivery.create(firing=firing, recipient=r.label, address=r.address,
                                             report_ids=[report.id] if report else [],
                                             state="skipped", last_error=problem)
                problems.append(f"{r.label}: {problem}")
                continue
            mail = await _queue_mail(settings, r.address, sub, firing, report)
            await models.Delivery.create(firing=firing, recipient=r.label, address=r.address,
                                         report_ids=[report.id], state="queued", mail_id=mail.id)
        if r.user is not None:
            names = [built[f].filename for f in per[r.label] if f in built]
            await notify.notify([r.user], f"定时报表：{sub.title}（{firing.period}）",
                                "、".join(names), key=f"ranking.report:{firing.id}",
                                link="/archive", mail=False)
    if problems:
        firing.error = "；".join(dict.fromkeys(problems))[:2000]
    firing.status = "partial" if problems else "ok"


async def _queue_mail(settings: Any, address: str, sub: models.Subscription,
                      firing: models.Firing, report: ReportFile) -> MailMessage:
    subject = f"{sub.title}（{firing.period}）"
    body = (f"{sub.title}\n考核期：{firing.period}\n文件：{report.filename}\n"
            f"SHA-256：{report.sha256}\n本邮件由考核平台按订阅 {sub.key} 自动发送。")
    return await notify.queue_mail(address, subject, body,
                                   attachment_path=str(file_path(settings, report)),
                                   attachment_name=report.filename,
                                   key=f"ranking.report:{firing.id}:{report.id}")


async def sync_deliveries() -> dict[str, int]:
    """Mirror the mail queue's state into the delivery log; report final failures once."""
    open_rows = await models.Delivery.filter(state__in=("queued", "retrying"),
                                             mail_id__isnull=False)
    if not open_rows:
        await report_failures()
        return {"sent": 0, "failed": 0}
    mails = {m.id: m for m in await MailMessage.filter(id__in=[d.mail_id for d in open_rows])}
    counts = {"sent": 0, "failed": 0}
    for d in open_rows:
        mail = mails.get(d.mail_id)
        if mail is None:
            continue
        state = {"sent": "sent", "failed": "failed"}.get(
            mail.status, "retrying" if mail.attempts else "queued")
        if (state, mail.attempts, mail.last_error) == (d.state, d.attempts, d.last_error):
            continue
        await models.Delivery.filter(id=d.id).update(
            state=state, attempts=mail.attempts, last_error=mail.last_error,
            sent_at=mail.sent_at, next_attempt_at=mail.next_attempt_at)
        if state in counts:
            counts[state] += 1
    await report_failures()
    return counts


async def report_failures() -> int:
    """Tell the admins about each delivery that failed for good, once."""
    told = 0
    for d in await models.Delivery.filter(state__in=("failed", "skipped"), reported_at__isnull=True) \
            .prefetch_related("firing__subscription"):
        claimed = await models.Delivery.filter(id=d.id, reported_at__isnull=True).update(
            reported_at=clock.now())
        if not claimed:
            continue  # another instance reports it
        sub = d.firing.subscription
        if d.state == "failed":
            body = f"{d.address}：{d.attempts} 次尝试后仍失败：{d.last_error}"
        else:
            body = f"{d.address or '-'}：未发送：{d.last_error}"
        await _tell_admins(f"定时报表投递失败：{sub.title} → {d.recipient}", body,
                           key=f"ranking.delivery.failed:{d.id}")
        told += 1
    return told


async def _tell_admins(subject: str, body: str, key: str) -> None:
    admins = await User.filter(role="admin", is_active=True)
    await notify.notify(admins, subject, body, key=key, link="/ranking/subscriptions")


async def run_due(settings: Any, now: dt.datetime | None = None) -> dict[str, Any]:
    """The job body: fire due subscriptions (latest missed time only), follow deliveries."""
    now = (now or clock.now()).astimezone(UTC)
    horizon = now - dt.timedelta(hours=config.of(settings).reports_catch_up_hours)
    cal = await WorkCalendar.load()
    fired, skipped = [], []
    for sub in await models.Subscription.filter(active=True):
        since = max(t for t in (sub.last_fired_for, sub.created_at, horizon) if t is not None)
        times = await due_times(sub, since, now, cal)
        if not times:
            continue
        firing = await fire(settings, sub, times[-1])  # missed ones coalesce into the latest
        (fired if firing else skipped).append(f"{sub.key}@{_local(times[-1])}")
    deliveries = await sync_deliveries()
    return {"fired": fired, "claimed_elsewhere": skipped, "deliveries": deliveries}


async def run_now(settings: Any, sub: models.Subscription) -> models.Firing:
    """`kaohe reports run ID` and the page's button: a manual firing, now."""
    firing = await fire(settings, sub, clock.now(), manual=True)
    if firing is None:
        raise Invalid("already_running", "subscription: a firing for this second already runs")
    return firing


async def dry_run(sub: models.Subscription, now: dt.datetime | None = None) -> dict[str, Any]:
    """Who would get what, without building, archiving or sending anything."""
    now = now or clock.now()
    nxt = await next_times(sub, 3, now)
    when = nxt[0] if nxt else now
    try:
        period, problem = await resolve_period(sub, when), ""
    except Invalid as exc:
        period, problem = "", exc.message
    if sub.exporter not in all_exporters():
        problem = f"exporter: unknown exporter '{sub.exporter}'"
    elif sub.exporter == "ranking" and period and not await models.Ranking.filter(
            period=period, group=sub.group, status__in=("objection", "final")).exists():
        problem = f"no published ranking of group '{sub.group}' for period '{period}' yet"
    recipients = await resolve_recipients(sub)
    main, per = plan(sub, period or "?", recipients)
    return {
        "subscription": sub.key, "title": sub.title, "exporter": sub.exporter,
        "cron": sub.cron, "calendar": sub.calendar,
        "next": [_local(t) for t in nxt], "period": period, "problem": problem,
        "files": sorted({f.filename for files in per.values() for f in files} | {main.filename}),
        "recipients": [{"recipient": r.label, "address": r.address, "problem": r.problem,
                        "files": [f.filename for f in per[r.label]]} for r in recipients],
    }


def _describe(exc: Exception) -> str:
    if isinstance(exc, KaoheError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"[:2000]


def _local(value: dt.datetime) -> str:

    return value.astimezone(clock.tz()).strftime("%Y-%m-%d %H:%M")
