"""Indicator values for the ranking: each unit's figure over its whole subtree."""

from __future__ import annotations

from core.contrib import IndicatorSource
from core.orgs import OrgUnit
from plugins.coverage import compliance, stats


async def _units(unit_codes: list[str]) -> dict[str, OrgUnit]:
    return {u.code: u for u in await OrgUnit.filter(code__in=list(unit_codes))}


async def _figures(period_code: str, unit_codes: list[str]):
    units = await _units(unit_codes)
    figures = await stats.unit_figures(period_code, [u.id for u in units.values()])
    return {code: figures[units[code].id]["total"] if code in units else None
            for code in unit_codes}


def _number(value) -> float | None:
    return None if value is None else float(value)


async def org_rate(period_code: str, unit_codes: list[str]) -> dict[str, float | None]:
    found = await _figures(period_code, unit_codes)
    return {code: _number(f.org_rate) if f else None for code, f in found.items()}


async def work_rate(period_code: str, unit_codes: list[str]) -> dict[str, float | None]:
    found = await _figures(period_code, unit_codes)
    return {code: _number(f.work_rate) if f else None for code, f in found.items()}


async def should_establish(period_code: str, unit_codes: list[str]) -> dict[str, float | None]:
    found = await _figures(period_code, unit_codes)
    return {code: float(f.should_establish) if f else None for code, f in found.items()}


async def report_compliance(period_code: str, unit_codes: list[str]) -> dict[str, float | None]:
    units = await _units(unit_codes)
    counts = await compliance.by_unit(period_code, [u.id for u in units.values()])
    out: dict[str, float | None] = {}
    for code in unit_codes:
        if code not in units:
            out[code] = None
            continue
        reported, assigned = counts[units[code].id]
        out[code] = _number(stats.rate(reported, assigned))
    return out


def sources() -> list[IndicatorSource]:
    return [
        IndicatorSource("coverage.org_rate", "组织覆盖率", "%", org_rate),
        IndicatorSource("coverage.work_rate", "工作覆盖率", "%", work_rate),
        IndicatorSource("coverage.should_establish", "应建未建数", "个", should_establish,
                        higher_is_better=False),
        IndicatorSource("coverage.report_compliance", "指导员报送率", "%", report_compliance),
    ]
