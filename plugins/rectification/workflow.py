"""The six-step workflow: registration and every transition, with roles, states and versions.

信息收集 register → 案件研判 assess / reject → 任务派遣 dispatch → 处理反馈 respond (and
request_extension) → 核查结案 verify (pass: closed, fail: back to dispatched) → 综合评价 evaluate.
Each transition checks, in this order: the user's role, the task's unit against the user's
scope, the period being open, the version the client saw, the current status. It writes the
task with `UPDATE … WHERE version = seen` so a concurrent change is never overwritten.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tortoise.transactions import in_transaction

from core import audit, events, notify, roles
from core.calendar import WorkCalendar
from core.contrib import DomainEvent
from core.errors import Conflict, Forbidden, Invalid
from core.orgs import OrgUnit, Period, get_open_period
from plugins.rectification import evidence as ev
from plugins.rectification.common import (
    Actor,
    admins,
    check_visible,
    get_task,
    local_date,
    now_utc,
    officers_by_path,
    officers_for,
    parse_date,
)
from plugins.rectification.config import Definition, current_definition
from plugins.rectification.models import SEVERITIES, ExtensionRequest, Task, TaskEvent

ADMIN, OFFICER = roles.ADMIN, roles.UNIT_OFFICER
log = logging.getLogger("kaohe.rectification")


@dataclass(frozen=True)
class Rule:
    from_states: tuple[str, ...]
    role: str
    step: str  # which of the six steps


RULES: dict[str, Rule] = {
    "assess": Rule(("registered",), ADMIN, "案件研判"),
    "reject": Rule(("registered", "assessed"), ADMIN, "案件研判"),
    "dispatch": Rule(("assessed",), ADMIN, "任务派遣"),
    "set_deadline": Rule(("dispatched",), ADMIN, "任务派遣"),
    "respond": Rule(("dispatched",), OFFICER, "处理反馈"),
    "request_extension": Rule(("dispatched",), OFFICER, "处理反馈"),
    "decide_extension": Rule(("dispatched",), ADMIN, "处理反馈"),
    "verify": Rule(("responded",), ADMIN, "核查结案"),
    "evaluate": Rule(("closed",), ADMIN, "综合评价"),
}


@dataclass
class Ctx:
    actor: Actor
    now: dt.datetime
    today: dt.date
    cal: WorkCalendar
    defn: Definition
    files: list[tuple[str, bytes]]
    store: ev.EvidenceStore
    after_commit: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)
    events: list[DomainEvent] = field(default_factory=list)  # stored with the change
    written: list[Path] = field(default_factory=list)  # files to remove if the transaction fails


def allowed_actions(task: Task, role: str, pending_extension: bool = False) -> list[str]:
    """The next steps open from the task's status for a role (any role when role is '')."""
    out = []
    for name, rule in RULES.items():
        if task.status not in rule.from_states or (role and rule.role != role):
            continue
        if name == "decide_extension" and not pending_extension:
            continue
        if name == "request_extension" and pending_extension:
            continue
        out.append(name)
    return out


def _describe(actions: list[str]) -> str:
    return ", ".join(f"{a} ({RULES[a].role})" for a in actions) or "none (the workflow is finished)"


def _text(data: dict[str, Any], key: str, required: bool = False, limit: int = 2000) -> str:
    value = data.get(key)
    value = "" if value is None else str(value).strip()
    if required and not value:
        raise Invalid("required", f"{key}: required", field=key)
    if len(value) > limit:
        raise Invalid("too_long", f"{key}: at most {limit} characters", field=key)
    return value


def _version(data: dict[str, Any]) -> int:
    try:
        return int(data["version"])
    except (KeyError, TypeError, ValueError):
        raise Invalid("version_required", "version: send the task version you saw "
                                          "(optimistic concurrency)", field="version") from None


async def _stale(task: Task, seen: int) -> Conflict:
    last = await TaskEvent.filter(task_id=task.id).order_by("-id").first()
    change = {}
    text = ""
    if last is not None:
        change = {"actor": last.actor, "at": last.at.isoformat(), "action": last.action,
                  "status": last.to_status, "reason": last.reason}
        text = (f": {last.actor} did '{last.action}' at "
                f"{last.at.astimezone(dt.UTC).strftime('%Y-%m-%d %H:%M')} UTC")
    return Conflict("stale_version",
                    f"task {task.number} changed since you loaded it (your version {seen}, "
                    f"current {task.version}){text}; it is now '{task.status}'. Reload and retry.",
                    details={"your_version": seen, "current_version": task.version,
                             "status": task.status, "last_change": change})


def _check_deadline(task: Task, deadline: dt.date, field: str = "deadline") -> None:
    registered = local_date(task.registered_at)
    if deadline < registered:
        raise Invalid("deadline_before_registration",
                      f"{field}: {deadline.isoformat()} is before the task was registered "
                      f"({registered.isoformat()})", field=field)


def _table_deadline(ctx: Ctx, task: Task) -> dt.date:
    return ctx.cal.add_working_days(ctx.today, ctx.defn.working_days(task.severity, task.category))


def _deadline_from(ctx: Ctx, task: Task, data: dict[str, Any], changes: dict[str, Any]) -> str:
    """A hand-set deadline (with a reason) or the definition's table; returns a note."""
    if data.get("deadline"):
        deadline = parse_date(data["deadline"], "deadline")
        _check_deadline(task, deadline)
        if not _text(data, "reason"):
            raise Invalid("reason_required", "reason: a hand-set deadline needs a reason",
                          field="reason")
        changes.update(deadline=deadline, deadline_manual=True)
        note = "set by hand"
    else:
        changes.update(deadline=_table_deadline(ctx, task), deadline_manual=False)
        days = ctx.defn.working_days(task.severity, task.category)
        note = f"{days} working days ({task.severity}, {task.category})"
    changes.update(_overdue_for(changes["deadline"], ctx.today))
    return note


def _overdue_for(deadline: dt.date, today: dt.date) -> dict[str, Any]:
    """A new deadline: overdue as of today, and the reminders armed again."""
    late = deadline < today
    return {"overdue": late, "overdue_since": deadline + dt.timedelta(days=1) if late else None,
            "reminded_before": None, "reminded_passed": None}


# -- step handlers: each returns (changes, reason, data for the timeline) ---------------------

async def _assess(task: Task, data: dict, ctx: Ctx):
    changes = await _task_fields(data, ctx.defn, partial=True)
    info = {k: str(v) for k, v in changes.items()}
    return {**changes, "status": "assessed"}, _text(data, "reason"), info


async def _reject(task: Task, data: dict, ctx: Ctx):
    return {"status": "rejected"}, _text(data, "reason", required=True), {}


async def _dispatch(task: Task, data: dict, ctx: Ctx):
    changes: dict[str, Any] = {"status": "dispatched", "dispatched_at": ctx.now}
    person = _text(data, "responsible_person", limit=64) or task.responsible_person
    if not person:
        raise Invalid("required", "responsible_person: name the person responsible before "
                                  "dispatching", field="responsible_person")
    changes["responsible_person"] = person
    note = _deadline_from(ctx, task, data, changes)
    ctx.after_commit.append(lambda: _tell_officers(task, "dispatched", changes["deadline"]))
    return changes, _text(data, "reason"), {"deadline": changes["deadline"].isoformat(),
                                            "rule": note}


async def _set_deadline(task: Task, data: dict, ctx: Ctx):
    if not data.get("deadline"):
        raise Invalid("required", "deadline: required", field="deadline")
    changes: dict[str, Any] = {}
    _deadline_from(ctx, task, data, changes)
    return changes, _text(data, "reason", required=True), {
        "from": task.deadline.isoformat() if task.deadline else "",
        "deadline": changes["deadline"].isoformat()}


async def _respond(task: Task, data: dict, ctx: Ctx):
    note = _text(data, "note", required=True, limit=5000)
    ids = await ev.attach_for_response(task, ctx, data.get("evidence"))
    changes = {"status": "responded", "responded_at": ctx.now}
    ctx.after_commit.append(lambda: _tell_admins(task, "responded", task.version + 1))
    return changes, note, {"evidence": ids, "late": bool(task.deadline and
                                                        ctx.today > task.deadline)}


async def _request_extension(task: Task, data: dict, ctx: Ctx):
    reason = _text(data, "reason", required=True)
    if task.extension_count >= ctx.defn.max_extensions:
        raise Conflict("extension_limit", f"extensions: this task already had "
                                          f"{task.extension_count} of at most "
                                          f"{ctx.defn.max_extensions} extensions",
                       field="requested_deadline", params={"max": ctx.defn.max_extensions})
    if ctx.today > task.deadline:
        raise Conflict("deadline_passed", f"requested_deadline: the deadline "
                                          f"{task.deadline.isoformat()} has passed; an extension "
                                          f"must be asked for before it", field="requested_deadline",
                       params={"deadline": task.deadline.isoformat()})
    wanted = parse_date(data.get("requested_deadline") or "", "requested_deadline")
    _check_extension(task, wanted, ctx, "requested_deadline")
    req = await ExtensionRequest.create(task=task, reason=reason, current_deadline=task.deadline,
                                        requested_deadline=wanted, requested_by=ctx.actor.name,
                                        requested_at=ctx.now)
    ids = await ev.attach_for_extension(task, req, ctx, data.get("evidence"))
    ctx.after_commit.append(lambda: _tell_admins(task, "extension", req.id))
    return {}, reason, {"extension_id": req.id, "requested_deadline": wanted.isoformat(),
                        "evidence": ids}


def _check_extension(task: Task, wanted: dt.date, ctx: Ctx, field: str) -> None:
    if wanted <= task.deadline:
        raise Invalid("extension_not_later", f"{field}: {wanted.isoformat()} is not after the "
                                             f"current deadline {task.deadline.isoformat()}",
                      field=field, params={"wanted": wanted.isoformat(),
                                           "deadline": task.deadline.isoformat()})
    limit = ctx.cal.add_working_days(task.deadline, ctx.defn.max_extension_days)
    if wanted > limit:
        raise Invalid("extension_too_long", f"{field}: at most {ctx.defn.max_extension_days} "
                                            f"working days after the current deadline "
                                            f"(latest {limit.isoformat()})", field=field,
                      params={"days": ctx.defn.max_extension_days, "latest": limit.isoformat()})


async def _decide_extension(task: Task, data: dict, ctx: Ctx):
    req = await ExtensionRequest.filter(task_id=task.id, status="pending").first()
    approve = _flag(data, "approve")
    reason = _text(data, "reason", required=not approve)
    changes: dict[str, Any] = {}
    if approve:
        granted = (parse_date(data["granted_deadline"], "granted_deadline")
                   if data.get("granted_deadline") else req.requested_deadline)
        _check_extension(task, granted, ctx, "granted_deadline")
        changes = {"deadline": granted, "extension_count": task.extension_count + 1,
                   **_overdue_for(granted, ctx.today)}
        req.granted_deadline = granted
    req.status = "approved" if approve else "rejected"
    req.decided_by, req.decided_at, req.decision_reason = ctx.actor.name, ctx.now, reason
    await req.save()
    ctx.after_commit.append(lambda: _tell_officers(task, f"extension_{req.status}",
                                                   changes.get("deadline", task.deadline)))
    return changes, reason, {"extension_id": req.id, "decision": req.status,
                             "deadline": changes["deadline"].isoformat() if changes else ""}


async def _verify(task: Task, data: dict, ctx: Ctx):
    if _flag(data, "passed"):
        responded = local_date(task.responded_at) if task.responded_at else ctx.today
        dispatched = local_date(task.dispatched_at) if task.dispatched_at else ctx.today
        changes = {"status": "closed", "closed_at": ctx.now,
                   "closed_late": responded > task.deadline,
                   "days_to_close": max(0, ctx.cal.working_days_between(dispatched, ctx.today))}
        return changes, _text(data, "reason"), {"passed": True, "late": changes["closed_late"]}
    reason = _text(data, "reason", required=True)
    changes = {"status": "dispatched", "fail_count": task.fail_count + 1, "responded_at": None}
    note = _deadline_from(ctx, task, {**data, "reason": reason}, changes)
    ctx.events.append(_failure_event(task, changes["fail_count"], reason))
    ctx.after_commit.append(lambda: _tell_officers(task, "returned", changes["deadline"]))
    return changes, reason, {"passed": False, "fail_count": changes["fail_count"],
                             "deadline": changes["deadline"].isoformat(), "rule": note}


async def _evaluate(task: Task, data: dict, ctx: Ctx):
    try:
        score = int(str(data.get("satisfaction", "")).strip())
    except ValueError:
        raise Invalid("invalid_score", "satisfaction: a whole number from 0 to 100",
                      field="satisfaction") from None
    if not 0 <= score <= 100:
        raise Invalid("invalid_score", f"satisfaction: {score} is not between 0 and 100",
                      field="satisfaction")
    comment = _text(data, "comment")
    return ({"status": "evaluated", "satisfaction": score, "evaluation_comment": comment,
             "evaluated_at": ctx.now}, comment, {"satisfaction": score})


HANDLERS = {"assess": _assess, "reject": _reject, "dispatch": _dispatch,
            "set_deadline": _set_deadline, "respond": _respond,
            "request_extension": _request_extension, "decide_extension": _decide_extension,
            "verify": _verify, "evaluate": _evaluate}


def _flag(data: dict[str, Any], key: str) -> bool:
    value = data.get(key)
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("1", "true", "yes", "on", "pass", "approve"):
        return True
    if str(value).lower() in ("0", "false", "no", "off", "fail", "reject"):
        return False
    raise Invalid("required", f"{key}: true or false", field=key)


# -- the one entry point for every transition ---------------------------------------------------

async def act(task_id: int, action: str, actor: Actor, data: dict[str, Any], *,
              files: list[tuple[str, bytes]] | None = None, now: dt.datetime | None = None,
              settings: Any = None) -> Task:
    """Run one transition; refuses with 403/409/422 and changes nothing when it may not run.

    `files` are evidence uploaded with a response or an extension request; `settings` (the
    instance settings) give their limits and folder."""
    if action not in RULES:
        raise Invalid("unknown_action", f"action: '{action}' is not one of {', '.join(RULES)}",
                      field="action")
    rule = RULES[action]
    now = now or now_utc()
    store = ev.EvidenceStore.from_settings(settings)
    ctx = Ctx(actor, now, local_date(now), await WorkCalendar.load(), await current_definition(),
              list(files or []), store)
    store.check_files(ctx.files)  # type, size and count before anything is written
    try:
        async with in_transaction():
            task = await get_task(task_id)
            pending = await ExtensionRequest.exists(task_id=task.id, status="pending")
            if actor.role != rule.role:
                mine = allowed_actions(task, actor.role, pending)
                raise Forbidden("role_not_allowed",
                                f"'{action}' is done by the role {rule.role}, not {actor.role}; "
                                f"next steps open to you: {', '.join(mine) or 'none'}",
                                details={"needs_role": rule.role, "allowed": mine})
            check_visible(actor, task)
            await get_open_period(task.period.code)
            seen = _version(data)
            if seen != task.version:
                raise await _stale(task, seen)
            allowed = allowed_actions(task, "", pending)
            if action not in allowed:
                raise Conflict("transition_not_allowed",
                               f"'{action}' is not allowed while task {task.number} is "
                               f"'{task.status}'"
                               + (" with an extension request pending" if pending else "")
                               + f"; allowed next steps: {_describe(allowed)}",
                               details={"status": task.status, "allowed": allowed})
            changes, reason, info = await HANDLERS[action](task, data, ctx)
            await _write(task, action, changes, reason, info, ctx)
            stored = [await events.announce(e.name, e.key, e.payload, occurred_at=e.occurred_at)
                      for e in ctx.events]
    except BaseException:
        ev.remove_files(ctx.written)
        raise
    # The change is committed: effects that fail now are logged, never undo it. A listener
    # that fails is retried by the core.events job.
    await events.deliver([i for i in stored if i is not None])
    for effect in ctx.after_commit:
        try:
            await effect()
        except Exception:
            log.exception("after %s of task %s: notification failed", action, task_id)
    return await get_task(task_id)


async def _write(task: Task, action: str, changes: dict[str, Any], reason: str,
                 info: dict[str, Any], ctx: Ctx) -> None:
    before = {k: getattr(task, k) for k in changes}
    seen = task.version
    count = await Task.filter(id=task.id, version=seen).update(**changes, version=seen + 1)
    if count != 1:  # someone else's transaction committed between our read and write
        fresh = await Task.get(id=task.id)
        task.version, task.status = fresh.version, fresh.status
        raise await _stale(task, seen)
    old_status = task.status
    for key, value in changes.items():
        setattr(task, key, value)
    task.version = seen + 1
    await TaskEvent.create(task=task, at=ctx.now, actor=ctx.actor.name, action=action,
                           from_status=old_status, to_status=task.status, reason=reason,
                           data=audit.canonical(info))
    await audit.record(f"rectification.{action}", "rectification_task", task.number,
                       before={**before, "version": seen},
                       after={**changes, "version": seen + 1, **info}, reason=reason)


# -- registration ---------------------------------------------------------------------------------

async def _task_fields(data: dict[str, Any], defn: Definition, partial: bool) -> dict[str, Any]:
    """Validate the descriptive fields; `partial` checks only those present."""
    out: dict[str, Any] = {}

    def present(key: str) -> bool:
        return not partial or (data.get(key) not in (None, ""))

    if present("title"):
        out["title"] = _text(data, "title", required=True, limit=200)
    if present("description"):
        out["description"] = _text(data, "description", limit=10000)
    if present("source"):
        source = _text(data, "source", required=True)
        if source not in defn.sources:
            raise Invalid("invalid_source", f"source: '{source}' is not one of "
                                            f"{', '.join(defn.sources)}", field="source")
        out["source"] = source
    if present("category"):
        category = _text(data, "category", required=True)
        if category not in defn.categories:
            raise Invalid("invalid_category", f"category: '{category}' is not one of "
                                              f"{', '.join(defn.categories)}", field="category")
        out["category"] = category
    if present("severity"):
        severity = _text(data, "severity", required=True)
        if severity not in SEVERITIES:
            raise Invalid("invalid_severity", f"severity: '{severity}' is not one of "
                                              f"{', '.join(SEVERITIES)}", field="severity")
        out["severity"] = severity
    if present("unit"):
        code = _text(data, "unit", required=True)
        unit = await OrgUnit.get_or_none(code=code)
        if unit is None:
            raise Invalid("unknown_unit", f"unit: no org unit with code '{code}'", field="unit")
        out["unit_id"] = unit.id
    if present("responsible_person"):
        out["responsible_person"] = _text(data, "responsible_person", limit=64)
    return out


async def register(actor: Actor, data: dict[str, Any], *, now: dt.datetime | None = None,
                   defn: Definition | None = None, tell: bool = True) -> Task:
    """Step 1 (信息收集): an admin registers a problem found by one of the sources."""
    if actor.role != ADMIN:
        raise Forbidden("role_not_allowed", f"registering a task is done by the role admin, "
                                            f"not {actor.role}")
    now = now or now_utc()
    defn = defn or await current_definition()
    period_code = _text(data, "period", required=True)
    if not await Period.exists(code=period_code):
        raise Invalid("unknown_period", f"period: no period '{period_code}'", field="period")
    period = await get_open_period(period_code)
    fields = await _task_fields(data, defn, partial=False)
    async with in_transaction():
        task = await Task.create(number=f"tmp-{uuid.uuid4().hex[:24]}", period=period,
                                 registered_at=now, registered_by=actor.name, **fields)
        # Numbered by the period's year: a 2014Q4 task is ZG2014-…, whenever it is entered.
        task.number = f"ZG{period.start.year}-{task.id:06d}"
        await Task.filter(id=task.id).update(number=task.number)
        await TaskEvent.create(task=task, at=now, actor=actor.name, action="register",
                               to_status="registered", reason=_text(data, "reason"),
                               data={"source": task.source})
        await audit.record("rectification.register", "rectification_task", task.number,
                           after=audit.snapshot(task), reason=_text(data, "reason"))
    return await get_task(task.id)


# -- effects after commit --------------------------------------------------------------------------

def task_link(task: Task) -> str:
    return f"/rectification/tasks/{task.id}"


def _failure_event(task: Task, fail_count: int, reason: str) -> DomainEvent:
    return DomainEvent(
        name="rectification.verification_failed",
        key=f"rectification.verification_failed:{task.id}:{fail_count}",
        source="rectification",
        payload={"task_id": task.id, "task_no": task.number, "title": task.title,
                 "unit_code": task.unit.code, "responsible_person": task.responsible_person,
                 "fail_count": fail_count, "reason": reason, "period": task.period.code,
                 "link": task_link(task)})


SUBJECTS = {
    "dispatched": "整改任务 {no} 已派遣，期限 {deadline}",
    "returned": "整改任务 {no} 核查未通过，已退回，新期限 {deadline}",
    "extension_approved": "整改任务 {no} 延期申请已批准，新期限 {deadline}",
    "extension_rejected": "整改任务 {no} 延期申请未获批准，期限仍为 {deadline}",
}


async def _tell_officers(task: Task, what: str, deadline: dt.date | None) -> None:
    users = officers_for(task.unit.path, await officers_by_path())
    fresh = await Task.get(id=task.id)
    subject = SUBJECTS[what].format(no=task.number, deadline=deadline.isoformat()
                                    if deadline else "")
    await notify.notify(users, subject, task.title, link=task_link(task),
                        key=f"rectification.{what}:{task.id}:{fresh.version}")


async def _tell_admins(task: Task, what: str, ref: Any) -> None:
    subject = f"整改任务 {task.number} 有新的延期申请" if what == "extension" else \
        f"整改任务 {task.number} 已反馈，待核查"
    await notify.notify(await admins(), subject, task.title, link=task_link(task),
                        key=f"rectification.{what}:{task.id}:{ref}")
