"""Scheduled check: close carried-out records whose appeal window has passed."""

from __future__ import annotations

from typing import Any

from core.calendar import WorkCalendar
from core.contrib import JobSpec
from plugins.accountability import appeals, notes, services
from plugins.accountability.models import Appeal, Record


async def close_settled(ctx: Any = None) -> dict[str, Any]:
    """A carried-out measure with no pending appeal is closed once its window has passed."""
    ladder = await services.current_ladder()
    cal = await WorkCalendar.load()
    today = ctx.today if ctx is not None else services.today()
    pending = set(await Appeal.filter(status="pending").values_list("record_id", flat=True))
    closed = []
    for record in await Record.filter(status="carried_out").order_by("id"):
        if record.id in pending:
            continue
        last = await appeals.deadline(record, ladder.appeal_window_days, cal)
        if last is None or today > last:
            await services.close(record.id, notes.WINDOW_PASSED)
            closed.append(record.id)
    return {"closed": closed}


def jobs(settings: Any) -> list[JobSpec]:
    config = settings.plugin("accountability") if settings is not None else None
    if config is not None and not config.auto_close:
        return []
    cron = config.close_cron if config is not None else "30 2 * * *"
    return [JobSpec("accountability.close_settled", close_settled, cron,
                    "Close carried-out accountability records whose appeal window has passed")]
