"""The ranking's part of `kaohe demo`: values for every district and community; on the demo's
2014 clock the 2013 ranking is published in January and the 2014H1 ranking in July (after the
half-year closed, with the accountability deductions carried out in it), each objection window
closing days later by the finalize job; on 2014-12-31 the 2014 ranking is a draft (data still
coming in). Values still missing at publication (a plugin's indicator without data for the
period) are confirmed by name, as the admin must confirm them on the page."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from plugins.ranking import models, rankings
from plugins.ranking.scheme import Indicator
from plugins.ranking.services import current_scheme, group_units

# Figures of the seed the demo centres on: 群众满意度 83.87 % (2013), 安全感 94.20 %.
CENTRES = {"public_satisfaction": Decimal("83.87"), "sense_of_security": Decimal("94.20")}
PUBLISHED = {"2013": dt.date(2014, 1, 20), "2014H1": dt.date(2014, 7, 15)}
DRAFT = "2014"


def demo_value(ind: Indicator, rng: Any, strength: float = 0.0) -> Decimal:
    """A plausible value; `strength` (-1 … 1) is the unit's standing, which lasts from one
    period to the next (a weak district in 2013 is rarely strong half a year later)."""
    centre = CENTRES.get(ind.key)

    def share(lo: float, hi: float) -> Decimal:
        better = strength if ind.direction != "lower" else -strength
        return Decimal(str(round(rng.uniform(lo, hi) + better * (hi - lo) * 0.35, 4)))

    if centre is not None:
        value = centre + Decimal(str(round(rng.gauss(strength * 2.5, 2.0), 2)))
    elif ind.method == "deduct":
        return Decimal(rng.choice([0, 0, 0, 1, 1, 2, 3]))
    elif ind.method == "ratio" and ind.target is not None:
        value = ind.target * share(0.78, 1.06)
    elif ind.method == "bands" and ind.bands:
        thresholds = [t for t, _ in ind.bands]
        lo, hi = min(thresholds), max(thresholds)
        value = lo + (hi - lo) * share(-0.2, 1.2)
    else:
        lo = ind.range_min if ind.range_min is not None else Decimal(0)
        hi = ind.range_max if ind.range_max is not None else Decimal(100)
        hi = min(hi, lo + 60)
        value = lo + (hi - lo) * share(0.2, 0.9)
    if ind.range_min is not None:
        value = max(value, ind.range_min)
    if ind.range_max is not None:
        value = min(value, ind.range_max)
    return value.quantize(Decimal(1) if ind.integer else Decimal("0.01"))


async def build(ctx: Any) -> dict[str, Any]:
    _, scheme = await current_scheme(required=False)
    if scheme is None:
        return {"skipped": "no [ranking] section in the demo definition"}
    stored = [i for i in scheme.indicators if i.stored]
    members = {g.key: await group_units(g) for g in scheme.groups}
    strength = {u.code: ctx.rng.uniform(-1, 1) for units in members.values() for u in units}
    rows = []
    for period in (*PUBLISHED, DRAFT):
        for group in scheme.groups:
            for unit in members[group.key]:
                for ind in stored:
                    rows.append(models.IndicatorValue(
                        period=period, unit_code=unit.code, indicator=ind.key,
                        value=demo_value(ind, ctx.rng, strength[unit.code]), origin="demo",
                        updated_by="demo"))
    # The generator writes straight into closed periods: people enter values while a period
    # is open, the demo fills history at once.
    await models.IndicatorValue.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    published: list[int] = []
    confirmed: dict[int, int] = {}

    async def each_day(day: dt.date) -> None:
        await rankings.finalize_due(day)  # the daily finalize job
        for period, on in PUBLISHED.items():
            if on != day:
                continue
            for group in scheme.groups:
                ranking = await rankings.compute(period, group.key, "demo")
                rows = await models.RankingRow.filter(ranking=ranking)
                missing = sum(len(r.missing or []) for r in rows)
                if missing:
                    confirmed[ranking.id] = missing
                ranking = await rankings.publish(ranking.id, "demo", ctx.settings,
                                                 confirm_missing=bool(missing))
                published.append(ranking.id)

    async def year_end() -> dict[str, Any]:
        # The assessment year publishes the quarters and the 2014 ranking, then the year result.
        from plugins.ranking import annual_demo

        year = await annual_demo.build(ctx)
        return {"published": published, "missing_confirmed": confirmed, "year": year}

    ctx.every_day(each_day)
    ctx.at_end(year_end)
    return {"values": len(rows)}
