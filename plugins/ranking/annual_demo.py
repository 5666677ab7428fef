"""The assessment year of the demo: quarterly rankings, self-assessments of the 养老 aspect
reviewed by the civil affairs bureau (two values changed with reasons), a panel of deputies,
bonus and deduction entries, and the 2014 year result with grades published."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from core import clock
from core.accounts import User
from core.orgs import OrgUnit
from plugins.ranking import annual, models, panel_rating, rankings, selfassess
from plugins.ranking.demo import demo_value
from plugins.ranking.services import group_units

QUARTERS = ("2014Q1", "2014Q2", "2014Q3", "2014Q4")
CHANGES = {"520103": ("care_beds", "养老床位含未验收的在建床位，按民政局验收台账核减"),
           "520113": ("pension_coverage", "参保人数含重复参保，按社保局数据比对结果调整")}


def _near(ind: Any, value: Decimal | None, rng: Any) -> Decimal:
    if value is None:
        return demo_value(ind, rng)
    value *= Decimal(str(round(rng.uniform(0.97, 1.03), 4)))
    if ind.range_min is not None:
        value = max(value, ind.range_min)
    if ind.range_max is not None:
        value = min(value, ind.range_max)
    return value.quantize(Decimal(1) if ind.integer else Decimal("0.01"))


async def _user(ctx: Any, username: str, name: str, role: str, unit: OrgUnit | None) -> User:
    user = await User.get_or_none(username=username)
    if user is None:
        user = await User.create(username=username, display_name=name, role=role, unit=unit,
                                 password_hash=ctx.password_hash,
                                 email=f"{username}@kaohe.example")
    return user


async def build(ctx: Any) -> dict[str, Any]:
    try:
        _, scheme, a = await annual.current_annual()
    except Exception as exc:  # no [ranking.annual] in the definition: nothing to show
        return {"skipped": str(exc)}
    stored = [i for i in scheme.indicators if i.stored]
    # A unit's quarters stay near its year: strong units are strong all year, as in life.
    year_values = {(v.unit_code, v.indicator): Decimal(str(v.value)) for v in
                   await models.IndicatorValue.filter(period=a.year)}
    rows = []
    for period in QUARTERS:
        for group in scheme.groups:
            for unit in await group_units(group):
                rows += [models.IndicatorValue(
                    period=period, unit_code=unit.code, indicator=i.key,
                    value=_near(i, year_values.get((unit.code, i.key)), ctx.rng),
                    origin="demo", updated_by="demo") for i in stored]
    await models.IndicatorValue.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    districts = scheme.groups[0]
    units = await group_units(districts)
    reviewer = await _user(ctx, "mzj", "市民政局审核员", "unit_officer", None)
    await selfassess.assign_reviewer("mzj", list(a.self_indicators), "市民政局", actor="demo")
    pinned = clock.pinned()
    window = a.window(a.year)
    clock.travel(window.opens + dt.timedelta(days=3))  # inside the window of the year
    changed = 0
    try:
        for unit in units:
            officer = await _user(ctx, f"officer{unit.code}", f"{unit.name}联络员",
                                  "unit_officer", unit)
            for key in a.self_indicators:
                ind = scheme.by_key[key]
                value = demo_value(ind, ctx.rng)
                sa = await selfassess.submit(
                    officer, a.year, unit.code, key, value, f"{unit.name}{ind.name}自评：依据"
                    f"年度工作台账和统计报表", [(f"{ind.name}台账.txt",
                                            f"{unit.name} {ind.name} {value}".encode())],
                    ctx.settings)
                if CHANGES.get(unit.code, ("",))[0] == key:
                    lowered = (value * Decimal("0.9")).quantize(Decimal("0.01"))
                    await selfassess.review(reviewer, sa.id, "change", lowered,
                                            CHANGES[unit.code][1])
                    changed += 1
                elif unit.code != units[-1].code:  # the last district's entries wait for review
                    await selfassess.review(reviewer, sa.id, "accept")
    finally:
        clock.travel(pinned)
    published = []
    for period in (*QUARTERS, a.year):
        for group in scheme.groups:
            ctx.progress(f"ranking {period} {group.key}")
            ranking = await rankings.compute(period, group.key, "demo")
            # The demo confirms the values it leaves missing, as an admin would after checking.
            ranking = await rankings.publish(ranking.id, "demo",
                                             ctx.settings if period == a.year else None,
                                             confirm_missing=True)
            published.append(ranking.id)
    names = [f"deputy{n}" for n in range(1, 6)]
    for n, name in enumerate(names, 1):
        await _user(ctx, name, f"市人大代表{n}", "leader", None)
    panel = a.panel(a.components[-1].panel) if a.panels else None
    ballots = 0
    if panel is not None:
        rnd, codes = await panel_rating.open_round(panel, a.year, districts.key, names, codes=4,
                                                   labels=[f"政协委员{n}" for n in range(1, 5)],
                                                   actor="demo")
        codes_list = [u.code for u in units]
        for name in names:
            user = await User.get(username=name)
            scores = {c: ctx.rng.randint(72, 98) for c in codes_list}
            await panel_rating.cast(rnd, panel, codes_list, scores, user=user)
            ballots += 1
        for code in codes[:3]:  # one outside rater did not answer
            scores = {c: ctx.rng.randint(65, 99) for c in codes_list}
            await panel_rating.cast(rnd, panel, codes_list, scores, code=code)
            ballots += 1
        await panel_rating.close_round(rnd)
    if a.items:
        await annual.add_adjustment(units[0].code, a.items[0].key, "2",
                                    "网格化管理经验在全省推广（黔府办函〔2014〕88号）", "demo")
        await annual.add_adjustment(units[1].code, a.items[-1].key, "3",
                                    "发生较大安全生产事故一起", "demo")
    results = []
    for group in scheme.groups:
        result = await annual.compute(a.year, group.key, "demo")
        results.append((await annual.publish(result.id, "demo")).id)
    return {"quarterly_and_year_rankings": len(published), "self_assessments": len(units) * len(
        a.self_indicators), "reviewer_changes": changed, "panel_ballots": ballots,
        "annual_results": results}
