"""Scheduled checks: ids start with `example.`; the trigger comes from the settings."""

from __future__ import annotations

from core.contrib import JobSpec
from kaohe_example import services


async def mark_seen(ctx) -> dict:
    return {"marked_seen": await services.mark_all_seen()}


def jobs(settings) -> list[JobSpec]:
    cron = settings.plugin("example").seen_cron
    return [JobSpec("example.mark_seen", mark_seen, cron, "Mark new example notes as seen")]
