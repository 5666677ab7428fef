"""The ranking's part of `kaohe demo`: values for every district and community, the 2013 and
2014H1 rankings published, the 2014 ranking as a draft (data still coming in)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from plugins.ranking import models, rankings
from plugins.ranking.scheme import Indicator
from plugins.ranking.services import current_scheme, group_units

# Figures of the seed the demo centres on: 群众满意度 83.87 % (2013), 安全感 94.20 %.
CENTRES = {"public_satisfaction": Decimal("83.87"), "sense_of_security": Decimal("94.20")}
PUBLISHED = ("2013", "2014H1")
DRAFT = "2014"


def demo_value(ind: Indicator, rng: Any) -> Decimal:
    centre = CENTRES.get(ind.key)
    if centre is not None:
        value = centre + Decimal(str(round(rng.gauss(0, 2.5), 2)))
    elif ind.method == "deduct":
        return Decimal(rng.choice([0, 0, 0, 1, 1, 2, 3]))
    elif ind.method == "ratio" and ind.target is not None:
        value = ind.target * Decimal(str(round(rng.uniform(0.78, 1.06), 4)))
    elif ind.method == "bands" and ind.bands:
        thresholds = [t for t, _ in ind.bands]
        lo, hi = min(thresholds), max(thresholds)
        value = lo + (hi - lo) * Decimal(str(round(rng.uniform(-0.2, 1.2), 4)))
    else:
        lo = ind.range_min if ind.range_min is not None else Decimal(0)
        hi = ind.range_max if ind.range_max is not None else Decimal(100)
        hi = min(hi, lo + 60)
        value = lo + (hi - lo) * Decimal(str(round(rng.uniform(0.2, 0.9), 4)))
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
    rows = []
    for period in PUBLISHED + (DRAFT,):
        for group in scheme.groups:
            for unit in await group_units(group):
                for ind in stored:
                    rows.append(models.IndicatorValue(
                        period=period, unit_code=unit.code, indicator=ind.key,
                        value=demo_value(ind, ctx.rng), origin="demo", updated_by="demo"))
    # The generator writes straight into closed periods: people enter values while a period
    # is open, the demo fills history at once.
    await models.IndicatorValue.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    published = []
    for period in PUBLISHED:
        for group in scheme.groups:
            ctx.progress(f"ranking {period} {group.key}")
            ranking = await rankings.compute(period, group.key, "demo")
            published.append((await rankings.publish(ranking.id, "demo", ctx.settings)).id)
    drafts = [(await rankings.compute(DRAFT, g.key, "demo")).id for g in scheme.groups]
    from plugins.ranking import annual_demo  # the assessment year publishes the 2014 drafts

    year = await annual_demo.build(ctx)
    return {"values": len(rows), "published": published, "drafts": drafts, "year": year}
