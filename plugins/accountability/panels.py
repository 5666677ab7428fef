"""The dashboard panel: what needs doing (admins), what concerns the unit, the year's figures."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core.calendar import WorkCalendar
from core.contrib import Panel
from plugins.accountability import appeals, services
from plugins.accountability.indicators import counted
from plugins.accountability.models import Appeal, Record


async def panels(user: Any) -> list[Panel]:
    if user is None or user.role == "instructor":
        return []
    if user.role == "admin":
        ctx = {"kind": "admin", "link": "/accountability/queue",
               "proposed": await Record.filter(status="proposed").count(),
               "appeals": await Appeal.filter(status="pending").count()}
    elif user.role == "unit_officer":
        rows = await services.list_records(user)
        ladder, cal = await services.current_ladder(), await WorkCalendar.load()
        appealable = 0
        for row in rows:
            if row.status in appeals.APPEALABLE and (
                    await appeals.can_appeal(row, user, ladder, cal))[0]:
                appealable += 1
        ctx = {"kind": "unit", "link": "/accountability/records",
               "standing": len(rows), "appealable": appealable}
    else:
        year = services.today().year
        start, end = await services.period_dates(str(year))
        found = await counted(start, end)
        by_measure: dict[str, int] = {}
        for _, measure, _ in found:
            by_measure[measure] = by_measure.get(measure, 0) + 1
        ctx = {"kind": "leader", "link": "/accountability/records", "year": year,
               "count": len(found), "points": sum((p for _, _, p in found), Decimal("0.00")),
               "by_measure": sorted(by_measure.items())}
    return [Panel("accountability/panel.html", ctx, order=40)]
