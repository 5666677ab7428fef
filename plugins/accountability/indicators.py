"""Indicator values for the ranking: deductions and counts by measure, per unit subtree.

A record counts in the period whose dates contain the day its measure was carried out
(not the period named by the triggering event): a deduction is incurred when the measure
is taken, and a year then holds exactly what its quarters hold. Only carried-out or closed
measures count; a carried-out measure keeps counting while an upgrade of it is pending.
"""

from __future__ import annotations

from decimal import Decimal

from core.contrib import IndicatorSource
from core.orgs import OrgUnit
from plugins.accountability.ladder import MEASURES
from plugins.accountability.services import counted, period_dates


async def deductions(period_code: str, unit_codes: list[str]) -> dict[str, list[tuple[str, Decimal]]]:
    """{unit_code: [(measure, points), ...]} of every counting record in the unit's subtree.
    Unknown unit codes are left out (their value is None)."""
    start, end = await period_dates(period_code)
    units = {u.code: u.path for u in await OrgUnit.filter(code__in=list(unit_codes))}
    if not units:
        return {}
    found = await counted(start, end)
    return {code: [(m, p) for r, m, p in found if r.unit.path.startswith(path)]
            for code, path in units.items()}


def _points_source():
    async def values(period_code: str, unit_codes: list[str]) -> dict[str, float | None]:
        found = await deductions(period_code, unit_codes)
        return {code: float(sum((p for _, p in found[code]), Decimal("0")))
                if code in found else None for code in unit_codes}

    return values


def _count_source(measure: str):
    async def values(period_code: str, unit_codes: list[str]) -> dict[str, float | None]:
        found = await deductions(period_code, unit_codes)
        return {code: float(sum(1 for m, _ in found[code] if m == measure))
                if code in found else None for code in unit_codes}

    return values


def sources() -> list[IndicatorSource]:
    out = [IndicatorSource("accountability.deduction_points", "责任追究扣分", "分",
                           _points_source(), higher_is_better=False)]
    titles = {"remind": "提醒", "interview": "约谈", "circulate": "通报批评",
              "admonish": "诫勉谈话", "refer": "移送纪检监察"}
    for measure in MEASURES:
        out.append(IndicatorSource(f"accountability.count.{measure}", f"责任追究{titles[measure]}次数",
                                   "次", _count_source(measure), higher_is_better=False))
    return out
