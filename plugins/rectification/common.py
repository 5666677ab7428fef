"""Shared helpers: local dates, who is acting and what they may see, who to tell."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from core import clock
from core.accounts import User
from core.errors import Invalid, NotFound
from core.scope import Scope, scope_for
from plugins.rectification.models import Task

OPEN_STATUSES = ("registered", "assessed", "dispatched", "responded")
DONE_STATUSES = ("closed", "evaluated")


def now_utc() -> dt.datetime:
    return clock.now()


def local_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(clock.tz()).date()


def parse_date(value: object, field: str) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise Invalid("invalid_date", f"{field}: '{value}' is not a date (yyyy-mm-dd)",
                      field=field) from None


@dataclass
class Actor:
    user: User
    scope: Scope

    @property
    def name(self) -> str:
        return self.user.username

    @property
    def role(self) -> str:
        return self.user.role

    def sees(self, unit_path: str) -> bool:
        return self.scope.allows_unit_path(unit_path)


async def actor_for(user: User) -> Actor:
    return Actor(user, await scope_for(user))


def check_visible(actor: Actor, task: Task) -> None:
    """Unit officers reach only tasks of their unit subtree; instructors none. A task out of
    reach is answered like a missing one, so neither its existence nor its unit is told."""
    if actor.role == "instructor" or not actor.sees(task.unit.path):
        raise NotFound("task_not_found", f"no rectification task with id {task.id}")


async def get_task(task_id: int, actor: Actor | None = None) -> Task:
    task = await Task.get_or_none(id=task_id).select_related("unit", "period")
    if task is None:
        raise NotFound("task_not_found", f"no rectification task with id {task_id}")
    if actor is not None:
        check_visible(actor, task)
    return task


def scoped(qs, actor: Actor):
    """Apply the object-level scope to a Task queryset."""
    if actor.scope.kind == "all":
        return qs
    if actor.scope.kind == "subtree" and actor.scope.unit_path:
        return qs.filter(unit__path__startswith=actor.scope.unit_path)
    return qs.filter(id__lt=0)


async def officers_by_path() -> dict[str, list[User]]:
    """Active unit officers grouped by their unit's path."""
    out: dict[str, list[User]] = {}
    for user in await User.filter(role="unit_officer", is_active=True).select_related("unit"):
        if user.unit is not None:
            out.setdefault(user.unit.path, []).append(user)
    return out


def officers_for(path: str, by_path: dict[str, list[User]]) -> list[User]:
    """Officers of the unit itself, else of the nearest ancestor that has any."""
    parts = [p for p in path.strip("/").split("/") if p]
    while parts:
        found = by_path.get("/" + "/".join(parts) + "/")
        if found:
            return found
        parts.pop()
    return []


async def admins() -> list[User]:
    return await User.filter(role="admin", is_active=True)


# Reasons the platform writes on a task's timeline, kept as written (the audit trail and the
# complaint importer's idempotency read them) and told in the reader's words when shown.
BULK_REASON = "Excel bulk registration"
COMPLAINT_REASON = re.compile(r"^群众满意度测评投诉（答卷 (?P<id>\d+)）$")


def complaint_reason(response_id: int) -> str:
    """The registering step's reason of a complaint's task: names the response, once."""
    return f"群众满意度测评投诉（答卷 {response_id}）"


def reason_text(reason: str | None, lang: str) -> str:
    """A timeline reason as the reader reads it; a reason a person typed is shown as typed."""
    from core import i18n

    reason = reason or ""
    if reason == BULK_REASON:
        return i18n.t("rectification.system_reason.bulk", lang)
    found = COMPLAINT_REASON.match(reason)
    if found:
        return i18n.t("rectification.system_reason.complaint", lang, id=found["id"])
    return reason
