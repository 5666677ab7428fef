"""The assessment year: 1,500 units × 4 periods × 37 indicators, the year result with grades.

Measurement: four quarterly rankings (plugins.ranking.scoring.compute on the demo scheme of
assessments/guiyang-2014.toml, values in memory) and the year result of
plugins.ranking.annual_rules.compute with the demo's [ranking.annual] (components — mean of
the quarters and the year-end ranking, here the fourth quarter's scheme again — panel trimmed
means, capped bonus and deduction entries, a veto, the 通报批评 and bottom-twice rules, grade
bands, quotas rounded down and ties at a boundary resolved by the year-end score). Baseline:
a plain-Python computation of the same figures in the same run (bench_ranking's straight
loops for the quarters, straight loops for the year), checked to give identical scores,
grades and ranks. Targets: < 1 s and ≤ 2× the baseline.

    python bench/bench_annual.py
"""

from __future__ import annotations

import random
import sys
import time
import tomllib
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (ROOT, HERE):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from bench_ranking import baseline_compute, demo_section  # noqa: E402

UNITS = 1500
PERIODS = ("2014Q1", "2014Q2", "2014Q3", "2014Q4")
Q = Decimal("0.01")


def annual_section() -> dict[str, Any]:
    data = tomllib.loads((ROOT / "assessments" / "guiyang-2014.toml").read_text(encoding="utf-8"))
    section = data["ranking"]["annual"]
    # The year-end component reads the fourth quarter's totals here: four rankings in all.
    for c in section["components"]:
        if c["key"] == "year_end":
            c["periods"] = ["2014Q4"]
    return section


def make_units(scheme: Any) -> tuple[list[tuple[str, str]], dict[str, dict]]:
    """Values near their targets (the demo's generator), so that every grade occurs."""
    from plugins.ranking.demo import demo_value

    units = [(f"52{i:07d}", f"第{i:05d}单位") for i in range(UNITS)]
    out = {}
    for n, period in enumerate(PERIODS):
        rng = random.Random(2014 + n)
        out[period] = {c: {i.key: demo_value(i, rng) for i in scheme.indicators} for c, _ in units}
    return units, out


def make_facts(units: list[tuple[str, str]], seed: int = 2015) -> dict[str, dict[str, Decimal]]:
    rng = random.Random(seed)
    out = {}
    for code, _ in units:
        n = rng.choice([3, 5, 7, 9])
        out[code] = {"panel:deputies": Decimal(rng.randint(6000, 9900)) / 100,
                     "panel_n:deputies": Decimal(n),
                     "adjust:innovation": Decimal(rng.choice([0, 0, 0, 1, 2, 4])),
                     "adjust:honours": Decimal(rng.choice([0, 0, 2, 3])),
                     "adjust:incidents": Decimal(rng.choice([0, 0, 0, 0, 2, 12])),
                     "veto:referred": Decimal(1 if rng.random() < 0.01 else 0),
                     "rule:criticized": Decimal(1 if rng.random() < 0.05 else 0)}
    return out


def engine(scheme, a, units, values_by_period, facts, bottom_n):
    from plugins.ranking import annual_rules, scoring

    inputs = {code: dict(facts[code], **{"rule:bottom_twice": Decimal(0)}) for code, _ in units}
    for period in PERIODS:
        for r in scoring.compute(scheme, units, values_by_period[period]):
            inputs[r.code][f"period:{period}"] = r.total
            if r.flag == "bottom":
                inputs[r.code]["rule:bottom_twice"] += 1
    return annual_rules.compute(a, units, inputs)


def plain(scheme, a, units, values_by_period, facts, bottom_n) -> dict[str, tuple]:
    """The same year in straight loops: no dataclasses, no helpers of the engine."""
    hundred = Decimal(100)
    totals: dict[str, dict[str, Decimal]] = {c: {} for c, _ in units}
    bottoms = dict.fromkeys(totals, 0)
    for period in PERIODS:
        ranked = baseline_compute(scheme, units, values_by_period[period])
        n = len(ranked)
        order = sorted(ranked.values(), key=lambda x: -x[1])
        # units strictly behind a total: n - 1 - (last position holding that total)
        last = {t: pos for pos, (_, t) in enumerate(order)}
        for code, (rank, total) in ranked.items():
            totals[code][period] = total
            if rank > scheme.top_n and n - 1 - last[total] < bottom_n:
                bottoms[code] += 1
    grades = [(g.key, g.min, g.quota) for g in a.grades]
    scored = []
    for code, _ in units:
        f = facts[code]
        acc = wsum = Decimal(0)
        comps = {}
        for c in a.components:
            if c.periods:
                vals = [totals[code][p] for p in c.periods]
                v = (sum(vals) / len(vals)).quantize(Q, rounding=ROUND_HALF_UP)
            else:
                v = f["panel:deputies"] if f["panel_n:deputies"] >= 5 else None
            comps[c.key] = v
            if v is not None:
                acc += v * c.weight
                wsum += c.weight
        base = (acc / wsum).quantize(Q, rounding=ROUND_HALF_UP)
        bonus = min(min(f["adjust:innovation"], Decimal(3)) + min(f["adjust:honours"], Decimal(3)),
                    a.bonus_cap)
        deduction = min(min(f["adjust:incidents"], Decimal(10)), a.deduction_cap)
        score = (base + bonus - deduction).quantize(Q, rounding=ROUND_HALF_UP)
        grade = next((k for k, lo, _ in grades[:-1] if score >= lo), grades[-1][0])
        if f["veto:referred"] >= 1:
            grade = "poor"
        else:
            order = [k for k, _, _ in grades]
            if f["rule:criticized"] >= 1 and order.index(grade) < order.index("good"):
                grade = "good"
            if bottoms[code] >= 2 and order.index(grade) < order.index("fair"):
                grade = "fair"
        scored.append([code, score, grade, comps["year_end"]])
    n = len(scored)
    for gi, (key, _, quota) in enumerate(grades[:-1]):
        if quota is None:
            continue
        places = int((Decimal(n) * quota / hundred).to_integral_value(rounding=ROUND_FLOOR))
        cands = sorted((s for s in scored if s[2] == key), key=lambda s: -s[1])
        if len(cands) <= places:
            continue
        cut = cands[places - 1][1]
        tied = [s for s in cands if s[1] == cut]
        slots = places - sum(1 for s in cands if s[1] > cut)
        tied.sort(key=lambda s: -s[3])
        boundary = tied[slots - 1][3]
        level = len(tied) > slots and tied[slots][3] == boundary
        for s in cands:
            if s[1] < cut:
                s[2] = grades[gi + 1][0]
        for pos, s in enumerate(tied):
            if pos >= slots or (level and s[3] == boundary):
                s[2] = grades[gi + 1][0]
    scored.sort(key=lambda s: -s[1])
    out, rank = {}, 0
    for pos, (code, score, grade, _) in enumerate(scored):
        if pos == 0 or score != scored[pos - 1][1]:
            rank = pos + 1
        out[code] = (rank, score, grade)
    return out


def run() -> list[dict[str, Any]]:
    from plugins.ranking.annual_scheme import parse as parse_annual
    from plugins.ranking.scheme import parse

    scheme = parse(demo_section(), None)
    a = parse_annual(annual_section(), scheme)
    units, values_by_period = make_units(scheme)
    facts = make_facts(units)
    args = (scheme, a, units, values_by_period, facts, scheme.bottom_n)
    got = {r.code: (r.rank, r.score, r.grade) for r in engine(*args)}
    want = plain(*args)
    wrong = [c for c in want if got[c] != want[c]]
    if wrong:
        raise AssertionError(f"engine and plain loops disagree on {len(wrong)} units, e.g. "
                             f"{[(c, got[c], want[c]) for c in wrong[:3]]}")
    counts: dict[str, int] = {}
    for _, _, g in got.values():
        counts[g] = counts.get(g, 0) + 1
    te, tb = [], []
    for _ in range(3):  # interleaved, so both see the same machine load
        started = time.perf_counter()
        engine(*args)
        te.append(time.perf_counter() - started)
        started = time.perf_counter()
        plain(*args)
        tb.append(time.perf_counter() - started)
    e, b = min(te), min(tb)
    met = "met" if e < 1 and e / b <= 2 else "NOT met"
    n_ind = len(scheme.indicators)
    return [{"name": f"year result {UNITS:,} units × {len(PERIODS)} periods × {n_ind} indicators "
                     f"with grades (in memory)",
             "seconds": e, "baseline": b, "ratio": e / b,
             "note": f"four quarterly rankings scored and the year combined (components, panel, "
                     f"capped adjustments, veto, rules, bands, quotas rounded down, ties by "
                     f"年终考核); baseline: the same figures in plain-Python loops in the same run, "
                     f"identical scores, grades and ranks checked; grades "
                     f"{', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}; "
                     f"targets < 1 s and ≤ 2×: {met}; best of 3"}]


if __name__ == "__main__":
    for row in run():
        print(f"{row['name']}: {row['seconds']:.3f} s | baseline {row['baseline']:.3f} s | "
              f"ratio {row['ratio']:.2f} | {row['note']}")
