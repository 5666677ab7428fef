"""The satisfaction part of `kaohe demo`: every community's answers to the 2012, 2013 and
2014 surveys, with variation between districts and communities and the city figures of the
seed exact: 群众满意度 80.17 % (2012) → 83.87 % (2013), 安全感 94.20 % (2013).

Counts are fixed first (valid answers per community, positives per community adding up to
the city's exact total), then answer sheets are drawn to match them; a few flagged sheets
(answered too fast, excluded by the rule) and suggestions are mixed in. Surveys whose dates
have passed are frozen, so the ranking reads their frozen results; the open survey's
complaints are announced like a respondent's would be.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from core import clock
from plugins.satisfaction import services
from plugins.satisfaction.models import Response, Survey

# Valid answers city-wide and the share of 满意+基本满意 / 安全+基本安全 (in 1/10,000).
TARGETS = {"guiyang-2012": (10000, 8017, 9261), "guiyang-2013": (10000, 8387, 9420),
           "guiyang-2014h1": (6000, 5124, 5664), "guiyang-2014h2": (6000, 5172, 5676)}
FLAGGED_SHARE = 0.03
COMMENTS = ["希望增加小区周边的停车位。", "社区医院排队时间太长。", "菜市场价格有点贵。",
            "希望多组织老年人文体活动。", "网格员服务很热情，点赞。", "夜间路灯不亮，出行不便。"]
COMPLAINTS = ["小区门口占道经营，堵塞消防通道，多次反映未解决。",
              "楼下餐馆油烟直排，影响居民生活。", "社区办事窗口工作人员态度差，推诿扯皮。"]


def _spread(total: int, weights: list[float]) -> list[int]:
    """Split `total` by weights with largest remainders so the parts add up exactly."""
    wsum = sum(weights)
    raw = [total * w / wsum for w in weights]
    out = [int(v) for v in raw]
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - out[i], reverse=True)[
            : total - sum(out)]:
        out[i] += 1
    return out


def _positives(rng: Any, sizes: list[int], rates: list[float], total: int) -> list[int]:
    """Positives per community near each community's own rate, adding up to `total`."""
    pos = [min(n, max(0, round(n * r))) for n, r in zip(sizes, rates, strict=True)]
    order = list(range(len(sizes)))
    while sum(pos) != total:
        rng.shuffle(order)
        step = 1 if sum(pos) < total else -1
        for i in order:
            if sum(pos) == total:
                break
            if 0 <= pos[i] + step <= sizes[i]:
                pos[i] += step
    return pos


def _moment(rng: Any, survey: Survey, until: dt.datetime) -> dt.datetime:
    tz = clock.tz()
    start = dt.datetime.combine(survey.opens, dt.time(8), tz)
    end = min(dt.datetime.combine(survey.closes, dt.time(20), tz), until)
    span = max((end - start).total_seconds(), 1)
    return (start + dt.timedelta(seconds=rng.uniform(0, span))).astimezone(dt.UTC)


def _sheet(rng: Any, positive: bool, safe: bool) -> dict[str, Any]:
    overall = (1 if rng.random() < 0.62 else 2) if positive else 3
    return {"overall": overall,
            "safety": (1 if rng.random() < 0.7 else 2) if safe else 3,
            "services": overall if rng.random() < 0.6 else rng.choice((1, 2, 3)),
            "medical": max(1, min(5, (5 if positive else 3) - rng.choice((0, 0, 1, 1, 2)))),
            "grid_manager": 1 if rng.random() < 0.72 else 2}


def _hex(rng: Any) -> str:
    return f"{rng.getrandbits(128):032x}"


async def _fill(ctx: Any, survey: Survey, now: dt.datetime) -> dict[str, Any]:
    rng = ctx.rng
    units = await services.covered_units(survey)
    today = now.astimezone(clock.tz()).date()  # the platform's day, not UTC's
    if not units or survey.key not in TARGETS or today < survey.opens:
        return {"responses": 0}
    valid, pos_total, safe_total = TARGETS[survey.key]
    if today < survey.closes:  # still collecting: the share of the days gone by
        days = (survey.closes - survey.opens).days + 1
        share = ((today - survey.opens).days + 1) / days
        valid, pos_total, safe_total = (round(x * share) for x in (valid, pos_total, safe_total))
    district_bias = {d.code: rng.gauss(0, 0.025) for d in ctx.districts}
    sizes = _spread(valid, [rng.uniform(0.75, 1.3) for _ in units])
    centre, safe_centre = pos_total / valid, safe_total / valid
    district_of = {u.id: u.path.strip("/").split("/")[1] for u in units}
    rates = [centre + district_bias[district_of[u.id]] + rng.gauss(0, 0.03) for u in units]
    safe_rates = [safe_centre + district_bias[district_of[u.id]] / 2 + rng.gauss(0, 0.015)
                  for u in units]
    pos = _positives(rng, sizes, rates, pos_total)
    safe = _positives(rng, sizes, safe_rates, safe_total)
    rows: list[Response] = []
    open_now = services.state(survey, today) == "open"
    complaints = 0
    for u, n, p, s in zip(units, sizes, pos, safe, strict=True):
        flags_pos = [True] * p + [False] * (n - p)
        flags_safe = [True] * s + [False] * (n - s)
        rng.shuffle(flags_pos)
        rng.shuffle(flags_safe)
        extra = [None] * n + ["too_fast"] * round(n * FLAGGED_SHARE)
        for i, flag in enumerate(extra):
            sheet = _sheet(rng, flags_pos[i], flags_safe[i]) if flag is None else \
                _sheet(rng, rng.random() < 0.5, rng.random() < 0.5)
            complaint = ""
            if rng.random() < 0.05:
                sheet["comment"] = rng.choice(COMMENTS)
            if open_now and flag is None and complaints < 12 and rng.random() < 0.002:
                complaint = sheet["comment"] = rng.choice(COMPLAINTS)
                complaints += 1
            received = _moment(rng, survey, now)
            rows.append(Response(
                survey_id=survey.id, unit_id=u.id, received_at=received,
                elapsed_seconds=rng.randint(3, 15) if flag else rng.randint(45, 420),
                nonce=_hex(rng), device_hash=hashlib.sha256(_hex(rng).encode()).hexdigest(),
                address_hash=hashlib.sha256((survey.salt + _hex(rng)[:6]).encode()).hexdigest()
                if open_now else None,
                answers=sheet, flags=flag or "", excluded=bool(flag), complaint=complaint,
                index_value=sheet["overall"], safety_value=sheet["safety"]))
    await Response.bulk_create(rows, batch_size=2000)
    announced = 0
    if complaints:
        from plugins.satisfaction.events import announce_pending

        announced = (await announce_pending())["announced"]
    return {"responses": len(rows), "valid": valid, "complaints": announced}


async def build(ctx: Any) -> dict[str, Any]:
    """Surveys already past when the demo year starts are answered and frozen at once; the
    year's own surveys are answered on their closing day (or on the demo's last day if they
    are still open then) with the clock on that day, and frozen the day after, as the daily
    job would, so the half-year rankings read their frozen results."""
    surveys = await Survey.all().prefetch_related("period").order_by("opens")
    if not surveys:
        return {"skipped": "no [satisfaction] surveys in the demo definition"}
    out: dict[str, Any] = {}
    end = getattr(ctx, "end", None)
    later = {}
    for survey in surveys:
        if end is not None and clock.today() < survey.closes:
            later[survey.key] = (survey, min(survey.closes, end))
            continue
        ctx.progress(f"satisfaction {survey.key}")
        out[survey.key] = await _fill(ctx, survey, clock.now())
    await _freeze_due(out)

    async def each_day(day: dt.date) -> None:
        for key, (survey, on) in list(later.items()):
            if on == day:
                out[key] = await _fill(ctx, survey, clock.now())
                del later[key]
        await _freeze_due(out)

    if later:
        ctx.every_day(each_day)
        ctx.at_end(lambda: _summary(out))
    return out


async def _freeze_due(out: dict[str, Any]) -> None:
    for survey in await services.due_for_closing(clock.today()):
        await services.freeze(survey)
        out.setdefault(survey.key, {"responses": 0})["frozen"] = True


async def _summary(out: dict[str, Any]) -> dict[str, Any]:
    return dict(out)
