"""Complaints from the satisfaction survey (`satisfaction.complaint`) become tasks at step 1
(信息收集), waiting for an admin to assess them (案件研判)."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from tortoise.transactions import in_transaction

from core import audit
from core.orgs import OrgUnit, Period
from plugins.rectification.common import complaint_reason, local_date, now_utc
from plugins.rectification.models import Task, TaskEvent

log = logging.getLogger("kaohe.rectification")
EVENT = "satisfaction.complaint"
NAMES = (EVENT,)
SOURCE = "survey"
ACTOR = "satisfaction"


async def _period(code: str, day: dt.date) -> Period | None:
    """The complaint's period when open; else the open year period of the day it came in."""
    period = await Period.get_or_none(code=code)
    if period is not None and not period.is_closed:
        return period
    return await Period.filter(status="open", kind="year", start__lte=day, end__gte=day).first()


def _refused(event: Any, message: str) -> dict[str, Any]:
    """Nothing registered: kept with the delivery for the admins (page /jobs/events), who can
    deliver it again once the cause is fixed."""
    log.warning("complaint %s: refused: %s", event.key, message)
    return {"plugin": "rectification", "event": event.name, "key": event.key,
            "status": "refused", "message": message}


async def handle(event: Any) -> Task | dict[str, Any] | None:
    if event.name != EVENT:
        return None
    p = event.payload if isinstance(event.payload, dict) else {}
    try:
        response_id = int(p["response_id"])
        unit_code, period_code = str(p["unit_code"]), str(p["period"])
    except (KeyError, TypeError, ValueError) as exc:
        return _refused(event, f"payload: missing or bad field {exc}")
    # One complaint per survey response: the registering step names the response, so a second
    # delivery finds it and stops (an exact match: JSON containment is not
    # available on SQLite).
    reason = complaint_reason(response_id)
    if await TaskEvent.filter(action="register", actor=ACTOR, reason=reason).exists():
        return None
    unit = await OrgUnit.get_or_none(code=unit_code[:32])
    now = now_utc()
    period = await _period(period_code[:16], local_date(now))
    if unit is None:
        return _refused(event, f"unit_code: no org unit '{unit_code[:32]}'")
    if period is None:
        return _refused(event, f"period: '{period_code[:16]}' is closed or unknown and no "
                               f"year period is open on {local_date(now)}")
    text = str(p.get("text", "")).strip()
    title = f"群众满意度测评投诉：{text[:60]}" if text else "群众满意度测评投诉"
    description = (f"{text}\n\n（{p.get('survey_title', '')}，{p.get('unit_name', '')}，"
                   f"答卷 {p.get('response_id')}，问题：{p.get('question', '')}）")
    async with in_transaction():
        task = await Task.create(number=f"tmp-{uuid.uuid4().hex[:24]}", period=period,
                                 source=SOURCE, category="general", title=title[:200],
                                 description=description, severity="general", unit=unit,
                                 registered_at=now, registered_by=ACTOR)
        task.number = f"ZG{local_date(now).year}-{task.id:06d}"
        await Task.filter(id=task.id).update(number=task.number)
        await TaskEvent.create(task=task, at=now, actor=ACTOR, action="register",
                               to_status="registered", reason=reason,
                               data={"source": SOURCE, "event_key": event.key,
                                     "response_id": p.get("response_id"),
                                     "link": p.get("link", "")})
        await audit.record("rectification.register", "rectification_task", task.number,
                           after=audit.snapshot(task), actor=ACTOR, reason=reason)
    return task
