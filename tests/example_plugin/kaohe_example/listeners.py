"""A listener: an overdue rectification task leaves a note on its unit. The event store
delivers each key once, inside a transaction with the delivery, so no table of handled
events is needed here."""

from __future__ import annotations

from typing import Any

from core.orgs import OrgUnit
from kaohe_example.models import Note

OVERDUE = "rectification.overdue"
NAMES = [OVERDUE]


async def handle(event: Any) -> dict[str, Any] | None:
    if event.name != OVERDUE:
        return None
    p = event.payload if isinstance(event.payload, dict) else {}
    unit = await OrgUnit.get_or_none(code=str(p.get("unit_code", "")))
    if unit is None or not p.get("task_no"):
        # Refuse, do not raise: a payload without its unit will not get better on a retry.
        return {"status": "refused", "message": "payload names no known unit or task"}
    note = await Note.create(unit=unit, created_by="example",
                             text=f"整改任务 {p['task_no']} 已超期 {int(p.get('days_overdue', 0))} 个工作日")
    return {"status": "noted", "note": note.id}
