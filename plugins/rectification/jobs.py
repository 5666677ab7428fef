"""Scheduled checks: the daily overdue scan with its reminders."""

from __future__ import annotations

from typing import Any

from core.contrib import JobSpec
from plugins.rectification import scan
from plugins.rectification.config import RectificationSettings


def jobs(settings: Any) -> list[JobSpec]:
    conf = settings.plugin("rectification") or RectificationSettings()

    async def overdue_scan(ctx: Any) -> dict[str, Any]:
        return await scan.overdue_scan(today=ctx.today, reminder_days=conf.reminder_days)

    return [JobSpec("rectification.overdue_scan", overdue_scan, conf.scan_cron,
                    "mark overdue rectification tasks, announce thresholds, remind units")]
