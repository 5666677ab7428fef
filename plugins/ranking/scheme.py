"""The indicator scheme: the [ranking] section of an assessment definition, checked and typed.

Scoring scale (one rule, documented in plugins/ranking/README.md):
- every indicator scores 0–100 (full marks 100), quantized to 0.01 half up;
- an aspect's score is the weighted mean of its indicators (indicator weights inside an
  aspect add up to 100), quantized the same way;
- the total is the weighted mean of the aspects (aspect weights add up to 100).
So every figure shown is on the same 0–100 scale and the shown figures add up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from core.orgs import LEVELS

METHODS = ("ratio", "minmax", "bands", "deduct")
DIRECTIONS = ("higher", "lower")
MISSING = ("zero", "exclude")
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
GROUP_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")  # the report archive keeps 32 characters
HUNDRED = Decimal(100)

# "annual" ([ranking.annual], the assessment year) is checked by annual_scheme.py.
SECTION_KEYS = {"missing", "top_n", "bottom_n", "objection_days", "groups", "aspects",
                "subscriptions", "annual"}
GROUP_KEYS = {"key", "name", "level", "within"}
ASPECT_KEYS = {"key", "name", "weight", "indicators"}
INDICATOR_KEYS = {"key", "name", "unit", "direction", "source", "method", "weight", "target",
                  "bands", "points", "max_deduction", "range", "integer", "core", "note"}


@dataclass(frozen=True)
class Indicator:
    key: str
    name: str
    aspect: str
    unit: str
    direction: str
    source: str
    method: str
    weight: Decimal
    target: Decimal | None = None
    bands: tuple[tuple[Decimal, Decimal], ...] = ()  # (threshold, score), best threshold first
    points: Decimal | None = None
    max_deduction: Decimal = HUNDRED
    range_min: Decimal | None = None
    range_max: Decimal | None = None
    integer: bool = False
    core: bool = False
    note: str = ""

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "higher"

    @property
    def plugin_key(self) -> str | None:
        return self.source[len("plugin:"):] if self.source.startswith("plugin:") else None

    @property
    def stored(self) -> bool:
        """Values entered by hand or uploaded, kept in ranking_value."""
        return self.source in ("manual", "import")


@dataclass(frozen=True)
class Aspect:
    key: str
    name: str
    weight: Decimal
    indicators: tuple[Indicator, ...]


@dataclass(frozen=True)
class Group:
    key: str
    name: str
    level: str
    within: str = ""  # unit code whose subtree holds the peers; "" = all units of the level


@dataclass(frozen=True)
class Scheme:
    aspects: tuple[Aspect, ...]
    groups: tuple[Group, ...]
    missing: str = "zero"
    top_n: int = 3
    bottom_n: int = 3
    objection_days: int = 0
    subscriptions: tuple[dict[str, Any], ...] = ()
    by_key: dict[str, Indicator] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        self.by_key.update({i.key: i for a in self.aspects for i in a.indicators})

    @property
    def indicators(self) -> list[Indicator]:
        return [i for a in self.aspects for i in a.indicators]

    def group(self, key: str) -> Group | None:
        return next((g for g in self.groups if g.key == key), None)


class SchemeError(Exception):
    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


def _num(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def _unknown(where: str, raw: dict[str, Any], known: set[str], errors: list[str]) -> None:
    for key in raw:
        if key not in known:
            errors.append(f"{where}.{key}: unknown key (known: {', '.join(sorted(known))})")


def validate(section: Any, definition: dict[str, Any] | None = None,
             source_keys: set[str] | None = None, exporter_names: set[str] | None = None
             ) -> list[str]:
    """Every problem of a [ranking] section, each starting with its key path."""
    errors: list[str] = []
    build(section, definition or {}, source_keys, exporter_names, errors)
    return errors


def parse(section: dict[str, Any], source_keys: set[str] | None = None) -> Scheme:
    """A typed scheme from a section; raises SchemeError listing every problem."""
    errors: list[str] = []
    scheme = build(section, {}, source_keys, None, errors)
    if errors or scheme is None:
        raise SchemeError(errors or ["ranking: no scheme"])
    return scheme


def build(section: Any, definition: dict[str, Any], source_keys: set[str] | None,
          exporter_names: set[str] | None, errors: list[str]) -> Scheme | None:
    p = "ranking"
    if not isinstance(section, dict):
        errors.append(f"{p}: expected a table")
        return None
    _unknown(p, section, SECTION_KEYS, errors)
    missing = section.get("missing", "zero")
    if missing not in MISSING:
        errors.append(f"{p}.missing: '{missing}' is not one of {', '.join(MISSING)}")
    counts = {}
    for name, default in (("top_n", 3), ("bottom_n", 3), ("objection_days", 0)):
        value = section.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            errors.append(f"{p}.{name}: expected a whole number ≥ 0, got {value!r}")
            value = default
        counts[name] = value
    groups = _groups(section.get("groups"), definition, errors)
    aspects = _aspects(section.get("aspects"), source_keys, errors)
    subs = section.get("subscriptions", [])
    if not isinstance(subs, list):
        errors.append(f"{p}.subscriptions: expected a list of tables")
        subs = []
    if exporter_names is not None:
        from plugins.ranking.subscriptions import check_subscription

        group_keys = {g.key for g in groups}
        for i, raw in enumerate(subs):
            errors.extend(f"{p}.subscriptions[{i}].{e}" for e in
                          check_subscription(raw, exporter_names, group_keys, from_definition=True))
    if errors:
        return None
    return Scheme(tuple(aspects), tuple(groups), missing, counts["top_n"], counts["bottom_n"],
                  counts["objection_days"], tuple(subs))


def _groups(raw: Any, definition: dict[str, Any], errors: list[str]) -> list[Group]:
    p = "ranking.groups"
    if not isinstance(raw, list) or not raw:
        errors.append(f"{p}: at least one peer group is needed ([[ranking.groups]] with key, "
                      f"name, level)")
        return []
    defined_units = {u.get("code") for u in definition.get("units", []) if isinstance(u, dict)}
    out, seen = [], set()
    for i, g in enumerate(raw):
        where = f"{p}[{i}]"
        if not isinstance(g, dict):
            errors.append(f"{where}: expected a table")
            continue
        _unknown(where, g, GROUP_KEYS, errors)
        key, level, within = g.get("key"), g.get("level"), g.get("within", "")
        if not isinstance(key, str) or not GROUP_KEY_RE.match(key):
            errors.append(f"{where}.key: expected a lower-case identifier of at most 32 "
                          f"characters, got {key!r}")
        elif key in seen:
            errors.append(f"{where}.key: '{key}' appears twice")
        seen.add(key)
        if level not in LEVELS:
            errors.append(f"{where}.level: {level!r} is not one of {', '.join(LEVELS)}")
        if not isinstance(within, str):
            errors.append(f"{where}.within: expected a unit code")
        elif within and defined_units and within not in defined_units:
            errors.append(f"{where}.within: unit '{within}' is not among the definition's units")
        out.append(Group(str(key), str(g.get("name") or key), str(level), within or ""))
    return out


def _aspects(raw: Any, source_keys: set[str] | None, errors: list[str]) -> list[Aspect]:
    p = "ranking.aspects"
    if not isinstance(raw, list) or not raw:
        errors.append(f"{p}: at least one aspect is needed ([[ranking.aspects]])")
        return []
    out: list[Aspect] = []
    keys: set[str] = set()
    ind_keys: dict[str, str] = {}
    ind_names: dict[str, str] = {}
    total = Decimal(0)
    for i, a in enumerate(raw):
        where = f"{p}[{i}]"
        if not isinstance(a, dict):
            errors.append(f"{where}: expected a table")
            continue
        _unknown(where, a, ASPECT_KEYS, errors)
        key = a.get("key")
        if not isinstance(key, str) or not KEY_RE.match(key):
            errors.append(f"{where}.key: expected a lower-case identifier, got {key!r}")
        elif key in keys:
            errors.append(f"{where}.key: '{key}' appears twice")
        keys.add(str(key))
        if not isinstance(a.get("name"), str) or not a["name"].strip():
            errors.append(f"{where}.name: required")
        weight = _num(a.get("weight"))
        if weight is None or weight <= 0:
            errors.append(f"{where}.weight: expected a number > 0, got {a.get('weight')!r}")
            weight = Decimal(0)
        total += weight
        indicators = _indicators(a.get("indicators"), where, str(key), source_keys, ind_keys,
                                 ind_names, errors)
        out.append(Aspect(str(key), str(a.get("name", "")), weight, tuple(indicators)))
    if total != HUNDRED:
        errors.append(f"{p}: aspect weights add up to {_fmt(total)}, they must add up to 100 "
                      f"({', '.join(f'{a.key}={_fmt(a.weight)}' for a in out)})")
    return out


def _indicators(raw: Any, parent: str, aspect: str, source_keys: set[str] | None,
                seen_keys: dict[str, str], seen_names: dict[str, str],
                errors: list[str]) -> list[Indicator]:
    p = f"{parent}.indicators"
    if not isinstance(raw, list) or not raw:
        errors.append(f"{p}: at least one indicator is needed")
        return []
    out, total = [], Decimal(0)
    for j, d in enumerate(raw):
        where = f"{p}[{j}]"
        if not isinstance(d, dict):
            errors.append(f"{where}: expected a table")
            continue
        _unknown(where, d, INDICATOR_KEYS, errors)
        ind = _indicator(d, where, aspect, source_keys, errors)
        if ind is None:
            continue
        if ind.key in seen_keys:
            errors.append(f"{where}.key: '{ind.key}' is already used at {seen_keys[ind.key]}")
        seen_keys.setdefault(ind.key, where)
        if ind.name in seen_names:
            errors.append(f"{where}.name: '{ind.name}' is already used at {seen_names[ind.name]}")
        seen_names.setdefault(ind.name, where)
        total += ind.weight
        out.append(ind)
    if out and total != HUNDRED:
        errors.append(f"{p}: indicator weights add up to {_fmt(total)}, they must add up to 100 "
                      f"within the aspect ({', '.join(f'{i.key}={_fmt(i.weight)}' for i in out)})")
    return out


def _indicator(d: dict[str, Any], where: str, aspect: str, source_keys: set[str] | None,
               errors: list[str]) -> Indicator | None:
    n0 = len(errors)
    key = d.get("key")
    if not isinstance(key, str) or not KEY_RE.match(key):
        errors.append(f"{where}.key: expected a lower-case identifier, got {key!r}")
    name = d.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.append(f"{where}.name: required")
    direction = d.get("direction", "higher")
    if direction not in DIRECTIONS:
        errors.append(f"{where}.direction: {direction!r} is not one of {', '.join(DIRECTIONS)}")
    source = d.get("source")
    _check_source(source, f"{where}.source", source_keys, errors)
    weight = _num(d.get("weight"))
    if weight is None or weight <= 0:
        errors.append(f"{where}.weight: expected a number > 0, got {d.get('weight')!r}")
    method = d.get("method")
    target = points = None
    max_deduction = HUNDRED
    bands: list[tuple[Decimal, Decimal]] = []
    if method not in METHODS:
        errors.append(f"{where}.method: {method!r} is not one of {', '.join(METHODS)}")
    elif method == "ratio":
        target = _num(d.get("target"))
        if target is None or target <= 0:
            errors.append(f"{where}.target: method 'ratio' needs a target > 0, got "
                          f"{d.get('target')!r}")
    elif method == "bands":
        bands = _bands(d.get("bands"), f"{where}.bands", direction, errors)
    elif method == "deduct":
        points = _num(d.get("points"))
        if points is None or points <= 0:
            errors.append(f"{where}.points: method 'deduct' needs points > 0 deducted per "
                          f"occurrence, got {d.get('points')!r}")
        if "max_deduction" in d:
            md = _num(d.get("max_deduction"))
            if md is None or not (0 < md <= HUNDRED):
                errors.append(f"{where}.max_deduction: expected a number in (0, 100]")
            else:
                max_deduction = md
        if direction != "lower":
            errors.append(f"{where}.direction: method 'deduct' counts occurrences, so the "
                          f"direction must be 'lower'")
    if "target" in d and method != "ratio" and _num(d.get("target")) is not None:
        target = _num(d.get("target"))  # kept for display
    rmin = rmax = None
    if "range" in d:
        rng = d["range"]
        if (not isinstance(rng, list) or len(rng) != 2 or _num(rng[0]) is None
                or _num(rng[1]) is None or _num(rng[0]) >= _num(rng[1])):
            errors.append(f"{where}.range: expected [min, max] with min < max, got {rng!r}")
        else:
            rmin, rmax = _num(rng[0]), _num(rng[1])
    elif d.get("unit") == "%":
        rmin, rmax = Decimal(0), HUNDRED
    elif method == "deduct":
        rmin = Decimal(0)
    for flag in ("integer", "core"):
        if flag in d and not isinstance(d[flag], bool):
            errors.append(f"{where}.{flag}: expected true or false")
    if len(errors) > n0:
        return None
    return Indicator(
        key=key, name=name, aspect=aspect, unit=str(d.get("unit", "")), direction=direction,
        source=source, method=method, weight=weight, target=target, bands=tuple(bands),
        points=points, max_deduction=max_deduction, range_min=rmin, range_max=rmax,
        integer=bool(d.get("integer", False)), core=bool(d.get("core", False)),
        note=str(d.get("note", "")))


def _check_source(source: Any, where: str, source_keys: set[str] | None,
                  errors: list[str]) -> None:
    if source in ("manual", "import"):
        return
    if isinstance(source, str) and source.startswith("plugin:"):
        key = source[len("plugin:"):]
        if source_keys is not None and key not in source_keys:
            known = ", ".join(sorted(source_keys)) or "none"
            errors.append(f"{where}: unknown indicator source '{key}': no loaded plugin "
                          f"provides it through kaohe_indicator_sources (known: {known})")
        return
    errors.append(f"{where}: {source!r} is not 'manual', 'import' or 'plugin:<indicator key>'")


def _bands(raw: Any, where: str, direction: str, errors: list[str]) -> list[tuple[Decimal, Decimal]]:
    if not isinstance(raw, list) or not raw:
        errors.append(f"{where}: method 'bands' needs bands = [{{threshold = …, score = …}}, …]")
        return []
    out = []
    for k, b in enumerate(raw):
        if not isinstance(b, dict) or set(b) - {"threshold", "score"}:
            errors.append(f"{where}[{k}]: expected {{threshold = number, score = number}}")
            continue
        t, s = _num(b.get("threshold")), _num(b.get("score"))
        if t is None:
            errors.append(f"{where}[{k}].threshold: expected a number, got {b.get('threshold')!r}")
            continue
        if s is None or not (0 <= s <= HUNDRED):
            errors.append(f"{where}[{k}].score: expected a number from 0 to 100, "
                          f"got {b.get('score')!r}")
            continue
        out.append((t, s))
    thresholds = [t for t, _ in out]
    if len(set(thresholds)) != len(thresholds):
        errors.append(f"{where}: two bands share a threshold")
    # Best band first: the highest threshold when higher is better, the lowest otherwise.
    return sorted(out, key=lambda b: b[0], reverse=(direction != "lower"))


def _fmt(d: Decimal) -> str:
    return format(d.normalize(), "f")


def to_json(scheme: Scheme) -> dict[str, Any]:
    """The typed scheme as plain JSON, stored with the definition version."""
    def num(d: Decimal | None) -> str | None:
        return None if d is None else format(d.normalize(), "f")

    return {
        "missing": scheme.missing, "top_n": scheme.top_n, "bottom_n": scheme.bottom_n,
        "objection_days": scheme.objection_days,
        "groups": [{"key": g.key, "name": g.name, "level": g.level, "within": g.within}
                   for g in scheme.groups],
        "aspects": [{
            "key": a.key, "name": a.name, "weight": num(a.weight),
            "indicators": [{
                "key": i.key, "name": i.name, "unit": i.unit, "direction": i.direction,
                "source": i.source, "method": i.method, "weight": num(i.weight),
                "target": num(i.target), "bands": [[num(t), num(s)] for t, s in i.bands],
                "points": num(i.points), "max_deduction": num(i.max_deduction),
                "range": [num(i.range_min), num(i.range_max)], "integer": i.integer,
                "core": i.core, "note": i.note} for i in a.indicators]}
            for a in scheme.aspects],
    }


def from_json(data: dict[str, Any]) -> Scheme:
    """Rebuild a stored scheme exactly (no re-validation: it was valid when stored)."""
    def num(v: Any) -> Decimal | None:
        return None if v is None else Decimal(v)

    aspects = []
    for a in data["aspects"]:
        inds = tuple(Indicator(
            key=i["key"], name=i["name"], aspect=a["key"], unit=i["unit"],
            direction=i["direction"], source=i["source"], method=i["method"],
            weight=Decimal(i["weight"]), target=num(i["target"]),
            bands=tuple((Decimal(t), Decimal(s)) for t, s in i["bands"]), points=num(i["points"]),
            max_deduction=Decimal(i["max_deduction"]), range_min=num(i["range"][0]),
            range_max=num(i["range"][1]), integer=i["integer"], core=i["core"], note=i["note"])
            for i in a["indicators"])
        aspects.append(Aspect(a["key"], a["name"], Decimal(a["weight"]), inds))
    groups = tuple(Group(g["key"], g["name"], g["level"], g["within"]) for g in data["groups"])
    return Scheme(tuple(aspects), groups, data["missing"], data["top_n"], data["bottom_n"],
                  data["objection_days"])
