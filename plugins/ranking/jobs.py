"""Scheduled work: fire due report subscriptions, follow their deliveries, close objection
windows."""

from __future__ import annotations

from typing import Any

from core.contrib import JobSpec
from plugins.ranking import config


async def reports_job(ctx: Any) -> dict[str, Any]:
    from plugins.ranking.reports import run_due

    return await run_due(ctx.settings, ctx.now)


async def finalize_job(ctx: Any) -> dict[str, Any]:
    from plugins.ranking import annual
    from plugins.ranking.rankings import finalize_due

    out = {"finalized": await finalize_due(ctx.today)}
    year = await annual.finalize_due()
    if year:  # year results whose 公示 ended
        out["annual_finalized"] = year
    return out


def jobs(settings: Any) -> list[JobSpec]:
    cfg = config.of(settings)
    return [
        JobSpec("ranking.reports", reports_job, cfg.reports_check_cron,
                "定时报表：发送到期的订阅，跟踪投递状态"),
        JobSpec("ranking.finalize", finalize_job, cfg.finalize_cron,
                "排位异议期结束后定稿"),
    ]
