"""Scores, aspect scores, totals and ranks: pure functions over values held in memory.

Decimal everywhere and ROUND_HALF_UP (四舍五入): float round(2.675, 2) gives 2.67, the office
expects 2.68. Ties share a place and the next place is skipped (1, 2, 2, 4).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from plugins.ranking.scheme import HUNDRED, Indicator, Scheme

Q = Decimal("0.01")
ZERO = Decimal(0)


def q2(value: Decimal) -> Decimal:
    return value.quantize(Q, rounding=ROUND_HALF_UP)


def indicator_score(ind: Indicator, value: Decimal, lo: Decimal | None = None,
                    hi: Decimal | None = None) -> Decimal:
    """One indicator's score on the 0–100 scale. `lo`/`hi` are the peers' extremes (minmax)."""
    higher = ind.direction == "higher"
    method = ind.method
    if method == "ratio":
        target = ind.target
        if higher:
            score = value / target * HUNDRED if value > 0 else ZERO
        else:  # lower is better: at or under the target is full marks, then target/value
            score = HUNDRED if value <= target else target / value * HUNDRED
        if score > HUNDRED:
            score = HUNDRED
    elif method == "minmax":
        if lo is None or hi is None or hi == lo:
            score = HUNDRED  # nobody to compare with, or everyone equal: nobody is behind
        elif higher:
            score = (value - lo) / (hi - lo) * HUNDRED
        else:
            score = (hi - value) / (hi - lo) * HUNDRED
    elif method == "bands":
        score = ZERO
        for threshold, band_score in ind.bands:
            if (value >= threshold) if higher else (value <= threshold):
                score = band_score
                break
    elif method == "deduct":
        deduction = ind.points * value
        if deduction > ind.max_deduction:
            deduction = ind.max_deduction
        score = HUNDRED - deduction
        if score < ZERO:
            score = ZERO
    else:  # the scheme was validated: an unknown method cannot get here
        raise ValueError(f"unknown scoring method {method!r}")
    return score.quantize(Q, rounding=ROUND_HALF_UP)


@dataclass
class UnitResult:
    code: str
    name: str
    total: Decimal | None = None
    aspects: dict[str, Decimal] = field(default_factory=dict)
    scores: dict[str, Decimal | None] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    excluded: bool = False
    rank: int | None = None
    prev_rank: int | None = None
    prev_total: Decimal | None = None
    flag: str = ""  # top, bottom or ""

    @property
    def rank_change(self) -> int | None:
        """Places gained since the previous period (positive = moved up)."""
        if self.rank is None or self.prev_rank is None:
            return None
        return self.prev_rank - self.rank

    @property
    def total_change(self) -> Decimal | None:
        if self.total is None or self.prev_total is None:
            return None
        return self.total - self.prev_total


def compute(scheme: Scheme, units: Sequence[tuple[str, str]],
            values: Mapping[str, Mapping[str, Decimal | None]],
            previous: Mapping[str, tuple[int | None, Decimal | None]] | None = None
            ) -> list[UnitResult]:
    """Score and rank `units` (code, name) in their given order (ties keep that order)."""
    indicators = scheme.indicators
    exclude = scheme.missing == "exclude"
    results: list[UnitResult] = []
    for code, name in units:
        vals = values.get(code, {})
        res = UnitResult(code, name)
        res.missing = [i.key for i in indicators if vals.get(i.key) is None]
        res.excluded = exclude and bool(res.missing)
        results.append(res)
    included = [r for r in results if not r.excluded]
    # Peers' extremes for min–max, over the units actually ranked.
    extremes: dict[str, tuple[Decimal | None, Decimal | None]] = {}
    for ind in indicators:
        if ind.method == "minmax":
            present = [v for r in included if (v := values.get(r.code, {}).get(ind.key)) is not None]
            extremes[ind.key] = (min(present), max(present)) if present else (None, None)
    for res in included:
        vals = values.get(res.code, {})
        total = ZERO
        for aspect in scheme.aspects:
            acc = ZERO
            for ind in aspect.indicators:
                value = vals.get(ind.key)
                if value is None:
                    score = ZERO  # policy "zero" (policy "exclude" never gets here)
                else:
                    lo, hi = extremes.get(ind.key, (None, None))
                    score = indicator_score(ind, value, lo, hi)
                res.scores[ind.key] = score
                acc += score * ind.weight
            aspect_score = (acc / HUNDRED).quantize(Q, rounding=ROUND_HALF_UP)
            res.aspects[aspect.key] = aspect_score
            total += aspect_score * aspect.weight
        res.total = (total / HUNDRED).quantize(Q, rounding=ROUND_HALF_UP)
    assign_ranks(included, scheme.top_n, scheme.bottom_n)
    for res in results:
        if previous and res.code in previous:
            res.prev_rank, res.prev_total = previous[res.code]
    # Ranked units by place (ties keep the given order), then the excluded ones.
    results.sort(key=lambda r: (r.rank is None, r.rank or 0))
    return results


def assign_ranks(results: list[UnitResult], top_n: int, bottom_n: int) -> None:
    """Competition ranking (1, 2, 2, 4) by total, then top/bottom flags.

    A unit is in the bottom N when fewer than N units are strictly behind it, so units tied
    for last place are all flagged. Top wins when a small group makes the two overlap."""
    order = sorted(range(len(results)), key=lambda k: -results[k].total)  # stable: ties keep order
    totals = [results[k].total for k in order]
    n = len(order)
    rank = 0
    for pos, k in enumerate(order):
        if pos == 0 or totals[pos] != totals[pos - 1]:
            rank = pos + 1
        results[k].rank = rank
    # Units strictly behind = n - (position of the last unit with the same total) - 1.
    behind_of: dict[Decimal, int] = {}
    for pos in range(n - 1, -1, -1):
        behind_of.setdefault(totals[pos], n - pos - 1)
    for k in order:
        res = results[k]
        if res.rank <= top_n:
            res.flag = "top"
        elif behind_of[res.total] < bottom_n:
            res.flag = "bottom"
        else:
            res.flag = ""


def num(value: Decimal | None) -> str | None:
    """The canonical text of a number: no exponent, no trailing zeros (2.6750 → "2.675")."""
    if value is None:
        return None
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def input_hash(period: str, unit: str, indicator: str, value: Decimal | None, source: str) -> str:
    """SHA-256 of one input value as canonical JSON: what publishing freezes."""
    body = json.dumps({"indicator": indicator, "period": period, "source": source, "unit": unit,
                       "value": num(value)}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def _js(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def input_hashes(period: str, units: Sequence[str], indicators: Sequence[tuple[str, str]],
                 values: Mapping[str, Mapping[str, Decimal | None]]
                 ) -> dict[str, dict[str, dict[str, Any]]]:
    """unit → indicator → {"v": value text, "s": source, "h": input_hash(...)} for many inputs.

    Builds the very text input_hash() hashes (keys in sorted order, compact separators) from
    parts prepared once per indicator and per unit: a ranking of 1,500 × 37 hashes 55,500
    inputs, and json.dumps per input was most of the compute time."""
    heads = {key: (source, '{"indicator":' + _js(key) + ',"period":' + _js(period)
                   + ',"source":' + _js(source) + ',"unit":') for key, source in indicators}
    out: dict[str, dict[str, dict[str, Any]]] = {}
    sha = hashlib.sha256
    for unit in units:
        unit_js = _js(unit) + ',"value":'
        vals = values.get(unit, {})
        row = {}
        for key, (source, head) in heads.items():
            text = num(vals.get(key))
            body = head + unit_js + ("null" if text is None else '"' + text + '"') + "}"
            row[key] = {"v": text, "s": source, "h": sha(body.encode()).hexdigest()}
        out[unit] = row
    return out


def digest(items: Any) -> str:
    body = json.dumps(items, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def result_rows(results: Sequence[UnitResult]) -> list[dict[str, Any]]:
    """The results as canonical JSON rows (for the results hash and comparisons)."""
    return [{"unit": r.code, "rank": r.rank, "total": num(r.total), "excluded": r.excluded,
             "flag": r.flag, "aspects": {k: num(v) for k, v in r.aspects.items()},
             "scores": {k: num(v) for k, v in r.scores.items()}} for r in results]
