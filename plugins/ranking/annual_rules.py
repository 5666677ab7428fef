"""The year's figures and grades: pure functions over inputs held in memory.

A unit's inputs are one flat mapping (each entry frozen and hashed when published):
`period:P` the unit's total in the published ranking of period P, `panel:K` / `panel_n:K`
a panel's trimmed mean and rater count, `adjust:ITEM` the points entered for a bonus or
deduction item, `veto:KEY` / `rule:KEY` the fact a veto or a rule looks at.

Order of the rules: score → band → vetoes (lowest grade) → rules (grade capped) → quotas best
grade first (a unit over the quota goes one grade down, ties at the boundary resolved by the
definition's tie rule). Every graded unit says which rule decided its grade.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from plugins.ranking.annual_scheme import AnnualScheme, Grade
from plugins.ranking.scoring import num, q2

ZERO = Decimal(0)
HUNDRED = Decimal(100)
_ROUND = {"floor": ROUND_FLOOR, "half_up": ROUND_HALF_UP, "ceil": ROUND_CEILING}


@dataclass
class YearResult:
    code: str
    name: str
    score: Decimal | None = None
    base: Decimal | None = None  # weighted components before bonus and deduction
    components: dict[str, Decimal | None] = field(default_factory=dict)
    bonus: Decimal = ZERO
    deduction: Decimal = ZERO
    band: str = ""  # the grade its score alone gives
    grade: str = ""
    rule: str = ""  # what decided the grade: band, veto:KEY, rule:KEY, quota, tie:…
    notes: list[dict[str, Any]] = field(default_factory=list)
    rank: int | None = None


def trimmed_mean(scores: Sequence[Decimal], trim: int, min_raters: int) -> Decimal | None:
    """The mean with the `trim` highest and `trim` lowest dropped; None below min_raters."""
    if len(scores) < min_raters or len(scores) <= 2 * trim:
        return None
    kept = sorted(scores)[trim:len(scores) - trim]
    return q2(sum(kept, ZERO) / len(kept))


def quota_places(n: int, quota: Decimal, rounding: str) -> int:
    """How many of n units a quota admits: n × quota ÷ 100 rounded as the definition says."""
    return int((Decimal(n) * quota / HUNDRED).to_integral_value(rounding=_ROUND[rounding]))


def combine(a: AnnualScheme, code: str, name: str,
            inputs: Mapping[str, Decimal | None]) -> YearResult:
    """One unit's year score: weighted components, then capped bonus and deduction."""
    res = YearResult(code, name)
    acc, weights = ZERO, ZERO
    for c in a.components:
        if c.periods:
            got = [v for p in c.periods if (v := inputs.get(f"period:{p}")) is not None]
            value = q2(sum(got, ZERO) / len(got)) if got else None
            if len(got) < len(c.periods):
                res.notes.append({"code": "periods_missing", "component": c.key,
                                  "missing": [p for p in c.periods
                                              if inputs.get(f"period:{p}") is None]})
        else:
            panel = a.panel(c.panel)
            count = int(inputs.get(f"panel_n:{c.panel}") or 0)
            value = inputs.get(f"panel:{c.panel}")
            if count < panel.min_raters:
                value = None
                res.notes.append({"code": "panel_not_used", "component": c.key,
                                  "raters": count, "min": panel.min_raters})
        res.components[c.key] = value
        if value is not None:
            acc += value * c.weight
            weights += c.weight
    if weights:
        if weights != HUNDRED:
            res.notes.append({"code": "weights_rescaled", "weights": num(weights)})
        res.base = q2(acc / weights)
    bonus = deduction = ZERO
    for item in a.items:
        points = inputs.get(f"adjust:{item.key}") or ZERO
        if points > item.cap:
            res.notes.append({"code": "item_capped", "item": item.key, "points": num(points),
                              "cap": num(item.cap)})
            points = item.cap
        if item.kind == "bonus":
            bonus += points
        else:
            deduction += points
    if bonus > a.bonus_cap:
        res.notes.append({"code": "bonus_capped", "points": num(bonus), "cap": num(a.bonus_cap)})
        bonus = a.bonus_cap
    if deduction > a.deduction_cap:
        res.notes.append({"code": "deduction_capped", "points": num(deduction),
                          "cap": num(a.deduction_cap)})
        deduction = a.deduction_cap
    res.bonus, res.deduction = bonus, deduction
    if res.base is not None:
        res.score = q2(res.base + bonus - deduction)
    return res


def _band(grades: Sequence[Grade], score: Decimal) -> str:
    for g in grades[:-1]:
        if score >= g.min:
            return g.key
    return grades[-1].key


def _tie_key(a: AnnualScheme, res: YearResult, rule: str) -> Decimal:
    if rule.startswith("component:"):
        value = res.components.get(rule.split(":", 1)[1])
    elif rule == "panel":
        value = next((res.components.get(c.key) for c in a.components if c.panel), None)
    else:  # bonus
        value = res.bonus
    return value if value is not None else Decimal("-Infinity")


def grade_all(a: AnnualScheme, results: list[YearResult],
              facts: Mapping[str, Mapping[str, Decimal | None]]) -> None:
    """Band, vetoes, rules and quotas for the units of one peer group (in place)."""
    graded = [r for r in results if r.score is not None]
    for r in graded:
        r.band = r.grade = _band(a.grades, r.score)
        r.rule = "band"
        unit_facts = facts.get(r.code, {})
        for veto in a.vetoes:
            value = unit_facts.get(f"veto:{veto.key}")
            if value is not None and value >= veto.min:
                r.grade, r.rule = a.grades[-1].key, f"veto:{veto.key}"
                r.notes.append({"code": "veto", "veto": veto.key, "value": num(value)})
                break
        if r.rule.startswith("veto:"):
            continue
        for rule in a.rules:
            value = unit_facts.get(f"rule:{rule.key}")
            if value is None:
                continue
            hit = value >= rule.bottom_count if rule.bottom_count else value >= rule.min
            if hit and a.grade_index(r.grade) < a.grade_index(rule.max_grade):
                r.grade, r.rule = rule.max_grade, f"rule:{rule.key}"
                r.notes.append({"code": "rule", "rule": rule.key, "value": num(value)})
    n = len(graded)
    for gi, g in enumerate(a.grades[:-1]):
        if g.quota is None:
            continue
        allowed = quota_places(n, g.quota, a.quota_rounding)
        cands = sorted((r for r in graded if r.grade == g.key), key=lambda r: -r.score)
        if len(cands) <= allowed:
            continue
        lower = a.grades[gi + 1].key
        note = {"code": "quota", "grade": g.key, "units": n, "quota": num(g.quota),
                "places": allowed, "rounding": a.quota_rounding}
        if allowed == 0:
            out, tied = cands, []
        else:
            s = cands[allowed - 1].score
            above = [r for r in cands if r.score > s]
            tied = [r for r in cands if r.score == s]
            out = [r for r in cands if r.score < s]
            tied = _resolve_tie(a, tied, allowed - len(above), note)
        for r in out:
            r.grade, r.rule = lower, "quota"
            r.notes.append(note)
        for r, went_down, rule in tied:
            if rule == "band":
                continue  # the tied units all fit: nothing to say
            if went_down:
                r.grade = lower
            r.rule = rule
            r.notes.append(note)
    _rank(graded)


def _resolve_tie(a: AnnualScheme, tied: list[YearResult], slots: int,
                 note: dict[str, Any]) -> list[tuple[YearResult, bool, str]]:
    """Which tied units keep the grade: by the tie rules in order, then tie_final.
    Returns (unit, goes down, the rule that decided) for every tied unit."""
    if len(tied) <= slots:
        return [(r, False, "band") for r in tied]
    keys = {id(r): [_tie_key(a, r, t) for t in a.tie_break] for r in tied}
    keyed = sorted(tied, key=lambda r: [-k for k in keys[id(r)]])  # stable: ties keep order
    last_in, first_out = keys[id(keyed[slots - 1])], keys[id(keyed[slots])]
    out = []
    for r in keyed:
        k = keys[id(r)]
        if k != last_in and k != first_out or last_in != first_out:
            # Separated by a named rule: the first rule on which it differs from the boundary.
            other = first_out if k >= last_in else last_in
            decided = next((t for t, x, y in zip(a.tie_break, k, other, strict=True) if x != y),
                           a.tie_break[0] if a.tie_break else a.tie_final)
            out.append((r, k < last_in, f"tie:{decided}"))
        else:  # level with the boundary on every named rule: the final rule, all in or all out
            out.append((r, a.tie_final == "demote", f"tie:{a.tie_final}"))
    note["tie"] = sorted({rule[4:] for _, _, rule in out})
    return out


def _rank(graded: list[YearResult]) -> None:
    order = sorted(graded, key=lambda r: -r.score)
    for pos, r in enumerate(order):
        r.rank = pos + 1 if pos == 0 or r.score != order[pos - 1].score else order[pos - 1].rank


def compute(a: AnnualScheme, units: Sequence[tuple[str, str]],
            inputs: Mapping[str, Mapping[str, Decimal | None]]) -> list[YearResult]:
    """Every unit's year score and grade, in rank order (ungraded units last)."""
    results = [combine(a, code, name, inputs.get(code, {})) for code, name in units]
    grade_all(a, results, inputs)
    results.sort(key=lambda r: (r.rank is None, r.rank or 0))
    return results


def result_rows(results: Sequence[YearResult]) -> list[dict[str, Any]]:
    """Canonical JSON rows: what the results hash covers and what verify compares."""
    return [{"unit": r.code, "rank": r.rank, "score": num(r.score), "base": num(r.base),
             "components": {k: num(v) for k, v in r.components.items()},
             "bonus": num(r.bonus), "deduction": num(r.deduction), "band": r.band,
             "grade": r.grade, "rule": r.rule} for r in results]
