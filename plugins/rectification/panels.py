"""The rectification cards on the dashboard: overdue tasks by district for the city, the
unit's own tasks by status for a unit officer."""

from __future__ import annotations

from typing import Any

from core.contrib import Panel
from core.roles import ADMIN_LEADER
from plugins.rectification import queries
from plugins.rectification.common import actor_for, scoped
from plugins.rectification.models import Task


async def panels(user: Any) -> list[Panel]:
    if user.role in ADMIN_LEADER:
        counts = await queries.overdue_by_district()
        return [Panel("rectification/_panel.html", {
            "rect_labels": [c[0] for c in counts], "rect_values": [c[1] for c in counts],
            "rect_total": sum(c[1] for c in counts)}, order=20)]
    if user.role == "unit_officer":
        actor = await actor_for(user)
        counts = await queries.status_counts(actor)
        overdue = await scoped(Task.filter(status="dispatched", overdue=True), actor).count()
        return [Panel("rectification/_panel_unit.html", {"rect_counts": counts,
                                                         "rect_overdue": overdue}, order=20)]
    return []
