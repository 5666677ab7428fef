"""The coverage cards: on the dashboard (the city's rates by district and the silent
instructors; an instructor's own reporting), and on the admin's page of a user (what the user
covers, and what their ended assignments left uncovered)."""

from __future__ import annotations

from typing import Any

from core.accounts import User
from core.contrib import Panel
from core.errors import KaoheError
from core.roles import ADMIN_LEADER
from plugins.coverage import assignments, compliance, services, stats


async def panels(user: Any) -> list[Panel]:
    try:
        if user.role == "instructor":
            return await _instructor_panel(user)
        return await _overview_panel(user)
    except KaoheError:
        return []  # no periods or units yet: no panel rather than a broken dashboard


def _rate(value: Any) -> float | None:
    return float(value) if value is not None else None


async def _overview_panel(user: Any) -> list[Panel]:
    code = await services.default_stats_period()
    if code is None:
        return []
    root = await services.scoped_unit(user, None)
    table = await services.stats_table(code, root)
    children = [item for item in table if item["depth"] == 1]
    silent = None
    if user.role in ADMIN_LEADER:
        silent = await compliance.silent_count(code)
    return [Panel("coverage/panel.html", {
        "cov_period": code, "cov_root": root, "cov_total": table[0]["figures"]["total"],
        "cov_labels": [c["unit"].name for c in children],
        # a unit with nothing to cover has no rate: the chart shows "—", not a bar at 0
        "cov_org_rates": [_rate(c["figures"]["total"].org_rate) for c in children],
        "cov_work_rates": [_rate(c["figures"]["total"].work_rate) for c in children],
        "cov_silent": silent}, order=20)]


async def _instructor_panel(user: Any) -> list[Panel]:
    current = await services.current_report_period()
    if current is None:
        return []
    items = await services.my_organizations(user, current)
    done = sum(1 for i in items if i["report"] and i["report"].status in compliance.COUNTED)
    returned = sum(1 for i in items if i["report"] and i["report"].status == "returned")
    return [Panel("coverage/panel_instructor.html", {
        "cov_period": current, "cov_assigned": len(items), "cov_done": done,
        "cov_returned": returned, "cov_rate": stats.rate(done, len(items)),
        "cov_left": await services.working_days_left(current)}, order=10)]


async def user_panels(user: User) -> list[Any]:
    """The admin's page of a user: the organizations they cover, and those their ended
    assignments left without an instructor (with the way to reassign them)."""
    current = await assignments.current_of(user)
    orphans = await assignments.orphans_of(user)
    if user.role != "instructor" and not current and not orphans:
        return []
    return [Panel("coverage/user_panel.html", {"current": current, "orphans": orphans,
                                               "user_id": user.id, "active": user.is_active},
                  order=20)]
