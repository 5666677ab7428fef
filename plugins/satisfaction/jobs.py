"""Scheduled work: freeze surveys whose date or period has closed, retry complaint events."""

from __future__ import annotations

from typing import Any

from core.contrib import JobSpec
from plugins.satisfaction.config import SatisfactionSettings


def conf_of(settings: Any) -> SatisfactionSettings:
    value = settings.plugin("satisfaction") if settings is not None else None
    return value or SatisfactionSettings()


def jobs(settings: Any) -> list[JobSpec]:
    conf = conf_of(settings)
    return [JobSpec("satisfaction.close", close_surveys, conf.close_cron,
                    "freeze the results of closed surveys and purge their address hashes"),
            JobSpec("satisfaction.complaints", retry_complaints, conf.retry_cron,
                    "announce complaints whose announcement failed")]


async def close_surveys(ctx: Any) -> dict[str, Any]:
    from plugins.satisfaction import services

    frozen = [s.key for s in await services.due_for_closing() if await services.freeze(s)]
    return {"frozen": frozen}


async def retry_complaints(ctx: Any) -> dict[str, Any]:
    from plugins.satisfaction.events import announce_pending

    return await announce_pending()
