"""Indicator sources for the ranking: 群众满意度 and 安全感 per unit and period."""

from __future__ import annotations

from core.contrib import IndicatorSource
from plugins.satisfaction import services


async def rate(period_code: str, unit_codes: list[str]) -> dict[str, float | None]:
    return await services.period_values(period_code, unit_codes, "index")


async def safety(period_code: str, unit_codes: list[str]) -> dict[str, float | None]:
    return await services.period_values(period_code, unit_codes, "safety")


def sources() -> list[IndicatorSource]:
    return [IndicatorSource("satisfaction.rate", "群众满意度", "%", rate),
            IndicatorSource("satisfaction.safety", "群众安全感", "%", safety)]
