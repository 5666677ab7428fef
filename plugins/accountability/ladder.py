"""The escalation ladder of the assessment definition: validation and rule lookup (pure).

A rule maps a trigger reaching a threshold to a measure:

    [[accountability.rules]]
    trigger = "overdue"        # overdue | verification_failed | bottom_ranking
    threshold = 15             # working days overdue | failed verifications | rankings in a row
    measure = "interview"      # remind | interview | circulate | admonish  (refer is manual only)
    points = 1.0               # deduction points
    target = "unit"            # unit | head (the measure is taken against the unit's head)

Rules of one trigger form rungs: the rung that applies is the one with the highest
threshold not above the level reached. Two rules of one trigger with the same threshold
overlap, and a higher threshold may not map to a lesser measure: both are rejected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

MEASURES = ("remind", "interview", "circulate", "admonish", "refer")
RANK = {m: i for i, m in enumerate(MEASURES)}
MANUAL_ONLY = ("refer",)
# The highest measure the repeat rule may reach on its own: referral is always by hand.
MAX_AUTOMATIC = "admonish"
TRIGGERS = ("overdue", "verification_failed", "bottom_ranking")
TARGETS = ("unit", "head")
RULE_KEYS = {"trigger", "threshold", "measure", "points", "target", "note"}
SECTION_KEYS = {"appeal_window_days", "repeat_within_days", "points", "rules"}
DEFAULT_APPEAL_WINDOW = 10
DEFAULT_REPEAT_DAYS = 365
CENT = Decimal("0.01")


def to_points(value: Any) -> Decimal:
    """Deduction points as a Decimal with two places, rounded half up."""
    if isinstance(value, bool):
        raise ValueError("expected a number")
    try:
        dec = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValueError(f"'{value}' is not a number") from None
    if not dec.is_finite():
        raise ValueError(f"'{value}' is not a number")
    return dec.quantize(CENT, rounding=ROUND_HALF_UP)


def next_measure(measure: str) -> str:
    """One rung up for a repeat within the year; never beyond MAX_AUTOMATIC."""
    return MEASURES[min(RANK[measure] + 1, RANK[MAX_AUTOMATIC])]


@dataclass(frozen=True)
class Rule:
    index: int
    trigger: str
    threshold: int
    measure: str
    points: Decimal
    target: str = "unit"
    note: str = ""


@dataclass(frozen=True)
class Ladder:
    rules: tuple[Rule, ...] = ()
    appeal_window_days: int = DEFAULT_APPEAL_WINDOW
    repeat_within_days: int = DEFAULT_REPEAT_DAYS
    points: dict[str, Decimal] = field(default_factory=dict)

    def rung(self, trigger: str, level: int) -> Rule | None:
        """The rule of `trigger` with the highest threshold not above `level`."""
        fitting = [r for r in self.rules if r.trigger == trigger and r.threshold <= level]
        return max(fitting, key=lambda r: r.threshold) if fitting else None

    def points_for(self, measure: str, fallback: Decimal) -> Decimal:
        return self.points.get(measure, fallback)

    @property
    def defined(self) -> bool:
        return bool(self.rules)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate(section: Any) -> list[str]:
    """Every error of the [accountability] section, each naming its key path."""
    if not isinstance(section, dict):
        return ["accountability: expected a table"]
    errors = [f"accountability.{key}: unknown key" for key in section if key not in SECTION_KEYS]
    for key in ("appeal_window_days", "repeat_within_days"):
        value = section.get(key)
        if value is not None and (not _is_int(value) or value < 0 or value > 3650):
            errors.append(f"accountability.{key}: expected a whole number of days 0–3650, got {value!r}")
    if section.get("appeal_window_days") == 0:
        errors.append("accountability.appeal_window_days: must be at least 1 (a unit must be able to appeal)")
    points = section.get("points", {})
    if not isinstance(points, dict):
        errors.append("accountability.points: expected a table of measure = points")
        points = {}
    for measure, value in points.items():
        if measure not in RANK:
            errors.append(f"accountability.points.{measure}: '{measure}' is not one of "
                          f"{', '.join(MEASURES)}")
        errors.extend(_points_error(f"accountability.points.{measure}", value))
    rules = section.get("rules", [])
    if not isinstance(rules, list):
        return errors + ["accountability.rules: expected an array of tables [[accountability.rules]]"]
    seen: dict[tuple[str, int], int] = {}
    for i, rule in enumerate(rules):
        where = f"accountability.rules[{i}]"
        if not isinstance(rule, dict):
            errors.append(f"{where}: expected a table")
            continue
        errors.extend(f"{where}.{k}: unknown key" for k in rule if k not in RULE_KEYS)
        for key in ("trigger", "threshold", "measure", "points"):
            if key not in rule:
                errors.append(f"{where}.{key}: missing")
        trigger, threshold, measure = rule.get("trigger"), rule.get("threshold"), rule.get("measure")
        if trigger is not None and trigger not in TRIGGERS:
            errors.append(f"{where}.trigger: {trigger!r} is not one of {', '.join(TRIGGERS)}")
        if threshold is not None and (not _is_int(threshold) or threshold < 1):
            errors.append(f"{where}.threshold: expected a whole number of at least 1, got {threshold!r}")
        if measure is not None:
            if measure not in RANK:
                errors.append(f"{where}.measure: {measure!r} is not one of {', '.join(MEASURES)}")
            elif measure in MANUAL_ONLY:
                errors.append(f"{where}.measure: '{measure}' may not be automatic "
                              "(an admin records a referral by hand)")
        if "points" in rule:
            errors.extend(_points_error(f"{where}.points", rule["points"]))
        target = rule.get("target", "unit")
        if target not in TARGETS:
            errors.append(f"{where}.target: {target!r} is not one of {', '.join(TARGETS)}")
        if trigger in TRIGGERS and _is_int(threshold) and threshold >= 1:
            other = seen.get((trigger, threshold))
            if other is not None:
                errors.append(f"{where}.threshold: {threshold} overlaps accountability.rules[{other}] "
                              f"(same trigger '{trigger}' and threshold)")
            else:
                seen[(trigger, threshold)] = i
    errors.extend(_order_errors(rules))
    return errors


def _points_error(where: str, value: Any) -> list[str]:
    try:
        dec = to_points(value)
    except ValueError as exc:
        return [f"{where}: {exc}"]
    if dec < 0 or dec > 1000:
        return [f"{where}: expected 0–1000 deduction points, got {value!r}"]
    return []


def _order_errors(rules: list[Any]) -> list[str]:
    """Within a trigger a higher threshold may not map to a lesser measure."""
    errors = []
    valid = [(i, r) for i, r in enumerate(rules) if isinstance(r, dict)
             and r.get("trigger") in TRIGGERS and _is_int(r.get("threshold"))
             and r.get("measure") in RANK]
    for i, rule in valid:
        for j, other in valid:
            if (other["trigger"] == rule["trigger"] and other["threshold"] < rule["threshold"]
                    and RANK[other["measure"]] > RANK[rule["measure"]]):
                errors.append(
                    f"accountability.rules[{i}].measure: '{rule['measure']}' at threshold "
                    f"{rule['threshold']} is lesser than '{other['measure']}' of "
                    f"accountability.rules[{j}] at the lower threshold {other['threshold']}")
    return errors


def load(section: dict[str, Any] | None) -> Ladder:
    """Build the ladder from an already validated section (an absent section: no rules)."""
    if not section:
        return Ladder()
    rules = tuple(
        Rule(index=i, trigger=r["trigger"], threshold=int(r["threshold"]), measure=r["measure"],
             points=to_points(r["points"]), target=r.get("target", "unit"), note=r.get("note", ""))
        for i, r in enumerate(section.get("rules", []))
    )
    return Ladder(
        rules=rules,
        appeal_window_days=int(section.get("appeal_window_days", DEFAULT_APPEAL_WINDOW)),
        repeat_within_days=int(section.get("repeat_within_days", DEFAULT_REPEAT_DAYS)),
        points={m: to_points(v) for m, v in (section.get("points") or {}).items()},
    )
