"""Surveys from the definition, the units they cover and their results rolled up the tree.

No web imports: routes, jobs, exporters and the indicator sources all read results here.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import msgspec
from tortoise import connections

from core import audit, clock
from core.errors import Invalid, NotFound
from core.orgs import OrgUnit, Period, parse_period
from plugins.satisfaction.config import POSITIVE, parse_section, points_of, questions_of
from plugins.satisfaction.models import Response, Survey

Z95 = 1.96


# -- applying the definition --------------------------------------------------------------------

def _spec(sec: Any, s: Any) -> dict[str, Any]:
    data = msgspec.to_builtins(s)
    data["questions"] = msgspec.to_builtins(questions_of(sec, s))
    data["exclude"] = list(sec.exclude)
    data["min_seconds"] = sec.min_seconds
    for k in ("key", "title", "period", "opens", "closes"):
        data.pop(k, None)
    return data


async def apply_section(section: dict[str, Any], definition: Any) -> dict[str, int]:
    """Create or update each survey by key. A frozen survey keeps its rules and results; a
    changed exclusion rule re-judges the stored responses of an open survey."""
    sec = parse_section(section)
    changed = 0
    for s in sec.surveys:
        period = await Period.get_or_none(code=s.period)
        if period is None:
            raise Invalid("unknown_period", f"satisfaction.surveys: period '{s.period}' does "
                                            f"not exist", field="period")
        spec = _spec(sec, s)
        row = await Survey.get_or_none(key=s.key)
        values = {"title": s.title, "period_id": period.id, "opens": s.opens,
                  "closes": s.closes, "spec": spec}
        if row is None:
            row = await Survey.create(key=s.key, salt=secrets.token_hex(32),
                                      definition_version=definition.version, **values)
            await audit.record("satisfaction.survey.create", "satisfaction_survey", s.key,
                               after={"period": s.period, "opens": s.opens, "closes": s.closes})
            changed += 1
            continue
        if row.frozen_at is not None:
            continue  # closed: its results stand as frozen
        before = {"title": row.title, "period_id": row.period_id, "opens": row.opens,
                  "closes": row.closes, "spec": row.spec}
        if before == values:
            continue
        old_exclude = (row.spec or {}).get("exclude")
        await Survey.filter(id=row.id).update(definition_version=definition.version, **values)
        if old_exclude != spec["exclude"]:
            await rejudge(row.id, spec["exclude"])
        await audit.record("satisfaction.survey.update", "satisfaction_survey", s.key,
                           before={"opens": row.opens, "closes": row.closes},
                           after={"opens": s.opens, "closes": s.closes})
        changed += 1
    return {"changed": changed}


async def rejudge(survey_id: int, exclude: list[str]) -> None:
    """Recompute `excluded` from the flags with a new exclusion rule."""
    rows = await Response.filter(survey_id=survey_id).exclude(flags="").values_list("id", "flags")
    out, keep = [], []
    for rid, flags in rows:
        (out if set(flags.split(",")) & set(exclude) else keep).append(rid)
    if out:
        await Response.filter(id__in=out).update(excluded=True)
    if keep:
        await Response.filter(id__in=keep).update(excluded=False)


# -- surveys and units --------------------------------------------------------------------------

async def get_survey(key: str) -> Survey:
    survey = await Survey.get_or_none(key=key).prefetch_related("period")
    if survey is None:
        raise NotFound("unknown_survey", f"survey: no survey '{key}'", field="survey")
    return survey


async def covered_units(survey: Survey) -> list[OrgUnit]:
    units = survey.spec.get("units") or {}
    qs = OrgUnit.filter(active=True)
    if units.get("codes"):
        qs = qs.filter(code__in=units["codes"])
    if units.get("level"):
        qs = qs.filter(level=units["level"])
    if units.get("within"):
        parent = await OrgUnit.get_or_none(code=units["within"])
        if parent is None:
            return []
        qs = qs.filter(path__startswith=parent.path)
    return await qs.order_by("path")


def state(survey: Survey, today: dt.date | None = None) -> str:
    """not_open, open or closed (closed by date, by freezing or by its period closing)."""
    today = today or clock.today()
    if survey.frozen_at is not None or today > survey.closes:
        return "closed"
    if getattr(survey, "period", None) is not None and isinstance(survey.period, Period) \
            and survey.period.is_closed:
        return "closed"
    return "not_open" if today < survey.opens else "open"


def short_code(survey: Survey, unit: OrgUnit) -> str:
    return f"{_b36(survey.id)}-{_b36(unit.id)}"


def parse_short_code(code: str) -> tuple[int, int] | None:
    a, sep, b = (code or "").partition("-")
    try:
        return (int(a, 36), int(b, 36)) if sep and len(code) <= 20 else None
    except ValueError:
        return None


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


# -- results ------------------------------------------------------------------------------------

@dataclass
class Tally:
    responses: int = 0
    valid: int = 0
    index: dict[int, int] = field(default_factory=dict)  # answer value → valid answers
    safety: dict[int, int] = field(default_factory=dict)

    def add(self, other: Tally) -> None:
        self.responses += other.responses
        self.valid += other.valid
        for mine, theirs in ((self.index, other.index), (self.safety, other.safety)):
            for k, v in theirs.items():
                mine[k] = mine.get(k, 0) + v


def pct(x: float | None) -> float | None:
    if x is None:
        return None
    return float(Decimal(str(x)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def score(counts: dict[int, int], kind: str, rule: str, points: dict[int, int]
          ) -> tuple[float | None, float | None, int]:
    """(index %, 95 % margin of error in points, n). Rate: share of positive answers with
    the normal-approximation margin; points: mean points with 1.96·s/√n."""
    n = sum(counts.values())
    if not n:
        return None, None, 0
    if rule == "rate":
        p = sum(c for v, c in counts.items() if v in POSITIVE[kind]) / n
        return p * 100, Z95 * math.sqrt(p * (1 - p) / n) * 100, n
    mean = sum(points.get(v, 0) * c for v, c in counts.items()) / n
    var = sum(c * (points.get(v, 0) - mean) ** 2 for v, c in counts.items()) / max(n - 1, 1)
    return mean, Z95 * math.sqrt(var / n), n


async def tallies(survey: Survey) -> dict[int, Tally]:
    """Per unit id, straight from the database: one GROUP BY over the survey's responses."""
    conn = connections.get("default")
    rows = await conn.execute_query_dict(
        "SELECT unit_id, excluded, index_value, safety_value, COUNT(*) AS n "
        "FROM satisfaction_response WHERE survey_id = " + str(int(survey.id)) +
        " GROUP BY unit_id, excluded, index_value, safety_value")
    out: dict[int, Tally] = {}
    for r in rows:
        t = out.setdefault(r["unit_id"], Tally())
        n = int(r["n"])
        t.responses += n
        if r["excluded"] in (True, 1):
            continue
        t.valid += n
        if r["index_value"] is not None:
            t.index[int(r["index_value"])] = t.index.get(int(r["index_value"]), 0) + n
        if r["safety_value"] is not None:
            t.safety[int(r["safety_value"])] = t.safety.get(int(r["safety_value"]), 0) + n
    return out


def _kind(spec: dict[str, Any], key: str) -> str:
    for q in spec.get("questions", []):
        if q["key"] == key:
            return q["kind"]
    return "sat3"


async def compute(survey: Survey) -> dict[str, dict[str, Any]]:
    """Results per unit code: the covered units and every ancestor up to the root."""
    spec = survey.spec
    covered = await covered_units(survey)
    by_id = await tallies(survey)
    codes = set()
    for u in covered:
        codes.update(c for c in u.path.strip("/").split("/"))
    units = {u.code: u for u in await OrgUnit.filter(code__in=list(codes))}
    sums: dict[str, Tally] = {c: Tally() for c in units}
    quota: dict[str, int] = dict.fromkeys(units, 0)
    covered_count: dict[str, int] = dict.fromkeys(units, 0)
    for u in covered:
        t = by_id.get(u.id, Tally())
        for code in u.path.strip("/").split("/"):
            if code in sums:
                sums[code].add(t)
                quota[code] += int(spec.get("quota") or 0)
                covered_count[code] += 1
    ikind, skind = _kind(spec, spec.get("index", "overall")), _kind(spec, spec.get("safety", ""))
    rule = spec.get("rule", "rate")
    out = {}
    for code, t in sums.items():
        u = units[code]
        index, moe, n = score(t.index, ikind, rule, points_of(spec, ikind))
        safety, smoe, sn = score(t.safety, skind, "rate", {}) if spec.get("safety") else \
            (None, None, 0)
        out[code] = {
            "unit_code": code, "unit_name": u.name, "level": u.level, "path": u.path,
            "covered_units": covered_count[code], "responses": t.responses, "valid": t.valid,
            "index_n": n, "index": pct(index), "moe": pct(moe), "safety_n": sn,
            "safety": pct(safety), "safety_moe": pct(smoe), "quota": quota[code],
            "progress": pct(t.valid / quota[code] * 100) if quota[code] else None,
            "counts": {str(k): v for k, v in sorted(t.index.items())},
            "safety_counts": {str(k): v for k, v in sorted(t.safety.items())},
        }
    return out


async def results(survey: Survey) -> dict[str, dict[str, Any]]:
    """A frozen survey's stored results; an open one's computed now."""
    if survey.frozen_at is not None and survey.frozen is not None:
        return survey.frozen
    return await compute(survey)


async def previous_survey(survey: Survey) -> Survey | None:
    prev_key = survey.spec.get("previous")
    if prev_key:
        return await Survey.get_or_none(key=prev_key)
    await survey.fetch_related("period")
    return await Survey.filter(period__end__lt=survey.period.start).order_by(
        "-closes", "-id").first()


async def results_with_change(survey: Survey) -> list[dict[str, Any]]:
    """Rows in tree order with `previous` and `change` (percentage points)."""
    rows = await results(survey)
    prev = await previous_survey(survey)
    before = await results(prev) if prev is not None else {}
    out = []
    for code, row in sorted(rows.items(), key=lambda kv: kv[1]["path"]):
        row = dict(row)
        old = before.get(code, {}).get("index")
        row["previous"] = old
        row["change"] = pct(row["index"] - old) if row["index"] is not None and old is not None \
            else None
        out.append(row)
    return out


# -- closing: freeze and purge --------------------------------------------------------------------

async def freeze(survey: Survey) -> bool:
    """Store the results, forget the addresses (hashes and salt). Once only.

    One transaction holding the survey against answers (locks.py): answers in flight in any
    process are stored before the results are computed, and later ones are refused."""
    if survey.frozen_at is not None:
        return False
    from tortoise.transactions import in_transaction

    from plugins.satisfaction import locks

    async with in_transaction() as conn:
        await locks.hold_survey(conn, survey.id)
        data = await compute(survey)
        now = clock.now()
        updated = await Survey.filter(id=survey.id, frozen_at__isnull=True).update(
            frozen=data, frozen_at=now, salt="")
        if not updated:
            return False
        await Response.filter(survey_id=survey.id).update(address_hash=None)
        city = min(data.values(), key=lambda r: r["path"].count("/"), default=None)
        await audit.record("satisfaction.survey.freeze", "satisfaction_survey", survey.key,
                           after={"units": len(data), "responses": city["responses"] if city else 0,
                                  "index": city["index"] if city else None})
    survey.frozen, survey.frozen_at, survey.salt = data, now, ""
    from plugins.satisfaction.answering import forget_cache

    forget_cache()  # this process stops taking answers at once (others on the closing date)
    return True


async def due_for_closing(today: dt.date | None = None) -> list[Survey]:
    today = today or clock.today()
    out = []
    for s in await Survey.filter(frozen_at__isnull=True).prefetch_related("period"):
        if today > s.closes or s.period.is_closed:
            out.append(s)
    return out


# -- values per period (the indicator sources) ----------------------------------------------------

async def surveys_for_period(code: str) -> list[Survey]:
    """Surveys of the period itself, or else of the periods inside it (two half-year surveys
    make the year's value)."""
    own = await Survey.filter(period__code=code).prefetch_related("period")
    if own:
        return list(own)
    try:
        _, start, end = parse_period(code)
    except ValueError:
        return []
    return list(await Survey.filter(period__start__gte=start, period__end__lte=end)
                .prefetch_related("period"))


async def period_values(code: str, unit_codes: list[str], which: str) -> dict[str, float | None]:
    """The index (`which` = index) or 安全感 (safety) per unit over the period's surveys;
    several surveys are pooled by their answers."""
    surveys = await surveys_for_period(code)
    if not surveys:
        return dict.fromkeys(unit_codes)
    if len(surveys) == 1:
        rows = await results(surveys[0])
        return {c: rows.get(c, {}).get(which) for c in unit_codes}
    pooled: dict[str, dict[str, int]] = {}
    kinds = set()
    for s in surveys:
        rows = await results(s)
        kinds.add((s.spec.get("rule", "rate"), _kind(s.spec, s.spec.get(which if which ==
                   "safety" else "index", "overall"))))
        for c in unit_codes:
            if c in rows:
                agg = pooled.setdefault(c, {})
                for k, v in rows[c]["counts" if which == "index" else "safety_counts"].items():
                    agg[k] = agg.get(k, 0) + v
    rule, kind = sorted(kinds)[0]
    out: dict[str, float | None] = {}
    for c in unit_codes:
        counts = {int(k): v for k, v in pooled.get(c, {}).items()}
        value, _, _ = score(counts, kind, rule if which == "index" else "rate",
                            points_of(surveys[0].spec, kind))
        out[c] = pct(value)
    return out
