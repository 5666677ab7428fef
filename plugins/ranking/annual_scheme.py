"""The assessment year: `[ranking.annual]` of an assessment definition, checked and typed.

How a year is made (components of period results with weights), bonus and deduction items
with caps, veto items, grade bands with quotas, grade rules, the tie rule at a quota boundary,
the indicators units assess themselves and the panels. Every error starts with its key path.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from plugins.ranking.scheme import GROUP_KEY_RE, HUNDRED, KEY_RE, Scheme, _num, _unknown

ROUNDINGS = ("floor", "half_up", "ceil")
TIE_FINAL = ("demote", "admit")
KINDS = ("bonus", "deduction")

SECTION_KEYS = {"year", "objection_days", "components", "adjustments", "bonus_cap",
                "deduction_cap", "vetoes", "rules", "grades", "quota_rounding", "tie_break",
                "tie_final", "self_assessment", "panels", "objection_how"}
COMPONENT_KEYS = {"key", "name", "weight", "periods", "panel"}
ITEM_KEYS = {"key", "name", "kind", "cap", "note"}
VETO_KEYS = {"key", "name", "source", "min", "note"}
RULE_KEYS = {"key", "name", "source", "min", "bottom_count", "max_grade", "note"}
GRADE_KEYS = {"key", "name", "min", "quota"}
SELF_KEYS = {"indicators", "windows"}
WINDOW_KEYS = {"period", "opens", "closes"}
PANEL_KEYS = {"key", "name", "scale", "trim", "min_raters"}


@dataclass(frozen=True)
class Component:
    key: str
    name: str
    weight: Decimal
    periods: tuple[str, ...] = ()  # the mean of these periods' published totals
    panel: str = ""  # or a panel's trimmed mean


@dataclass(frozen=True)
class Item:
    key: str
    name: str
    kind: str  # bonus or deduction
    cap: Decimal


@dataclass(frozen=True)
class Veto:
    key: str
    name: str
    source: str  # plugin:KEY or an indicator key of the scheme
    min: Decimal  # a value at or above this forces the lowest grade


@dataclass(frozen=True)
class Rule:
    key: str
    name: str
    max_grade: str
    source: str = ""  # with `min`: a fact at or above min caps the grade
    min: Decimal = Decimal(1)
    bottom_count: int = 0  # or: flagged bottom in this many published period rankings


@dataclass(frozen=True)
class Grade:
    key: str
    name: str
    min: Decimal
    quota: Decimal | None  # at most this per cent of the peer group


@dataclass(frozen=True)
class Window:
    period: str
    opens: dt.date
    closes: dt.date


@dataclass(frozen=True)
class Panel:
    key: str
    name: str
    scale_min: Decimal
    scale_max: Decimal
    trim: int  # dropped at each end
    min_raters: int


@dataclass(frozen=True)
class AnnualScheme:
    year: str
    objection_days: int
    components: tuple[Component, ...]
    items: tuple[Item, ...]
    bonus_cap: Decimal
    deduction_cap: Decimal
    vetoes: tuple[Veto, ...]
    rules: tuple[Rule, ...]
    grades: tuple[Grade, ...]  # best first; the last one takes everyone else
    quota_rounding: str
    tie_break: tuple[str, ...]  # component:KEY | panel | bonus — higher first
    tie_final: str
    self_indicators: tuple[str, ...]
    windows: tuple[Window, ...]
    panels: tuple[Panel, ...]
    objection_how: str = ""

    @property
    def periods(self) -> list[str]:
        out: list[str] = []
        for c in self.components:
            out += [p for p in c.periods if p not in out]
        return out

    def grade(self, key: str) -> Grade:
        return next(g for g in self.grades if g.key == key)

    def grade_index(self, key: str) -> int:
        return next(n for n, g in enumerate(self.grades) if g.key == key)

    def window(self, period: str) -> Window | None:
        return next((w for w in self.windows if w.period == period), None)

    def panel(self, key: str) -> Panel | None:
        return next((p for p in self.panels if p.key == key), None)

    def item(self, key: str) -> Item | None:
        return next((i for i in self.items if i.key == key), None)


class AnnualError(Exception):
    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _list(raw: Any, where: str, errors: list[str]) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(x, dict) for x in raw):
        errors.append(f"{where}: expected a list of tables")
        return []
    return raw


def _keyed(d: dict[str, Any], where: str, seen: set[str], errors: list[str]) -> tuple[str, str]:
    key, name = d.get("key"), d.get("name")
    if not isinstance(key, str) or not KEY_RE.match(key):
        errors.append(f"{where}.key: expected a lower-case identifier, got {key!r}")
        key = ""
    elif key in seen:
        errors.append(f"{where}.key: '{key}' is used twice")
    seen.add(key or "")
    if not isinstance(name, str) or not name.strip():
        errors.append(f"{where}.name: a name is needed")
        name = key
    return key, name


def build(raw: Any, scheme: Scheme | None, periods: set[str] | None, source_keys: set[str] | None,
          errors: list[str]) -> AnnualScheme | None:
    """Typed section, or None with every problem appended to `errors`."""
    p = "ranking.annual"
    if not isinstance(raw, dict):
        errors.append(f"{p}: expected a table")
        return None
    _unknown(p, raw, SECTION_KEYS, errors)
    year = raw.get("year")
    if not isinstance(year, str) or not year:
        errors.append(f"{p}.year: the year's period code is needed, e.g. \"2014\"")
    elif periods is not None and year not in periods:
        errors.append(f"{p}.year: '{year}' is not a period of this definition")
    days = raw.get("objection_days", 0)
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        errors.append(f"{p}.objection_days: expected a whole number ≥ 0, got {days!r}")
        days = 0
    panels = _panels(raw.get("panels"), errors)
    components = _components(raw.get("components"), periods, {x.key for x in panels}, errors)
    items, caps = _items(raw, errors)
    indicator_keys = set(scheme.by_key) if scheme is not None else None
    vetoes = _vetoes(raw.get("vetoes"), indicator_keys, source_keys, errors)
    grades = _grades(raw.get("grades"), errors)
    rules = _rules(raw.get("rules"), {g.key for g in grades}, indicator_keys, source_keys, errors)
    rounding = raw.get("quota_rounding", "floor")
    if rounding not in ROUNDINGS:
        errors.append(f"{p}.quota_rounding: '{rounding}' is not one of {', '.join(ROUNDINGS)}")
    tie_break = raw.get("tie_break", [])
    comp_keys = {c.key for c in components}
    if not isinstance(tie_break, list):
        errors.append(f"{p}.tie_break: expected a list such as [\"component:year_end\"]")
        tie_break = []
    for n, t in enumerate(tie_break):
        ok = t in ("panel", "bonus") or (isinstance(t, str) and t.startswith("component:")
                                         and t.split(":", 1)[1] in comp_keys)
        if not ok:
            errors.append(f"{p}.tie_break[{n}]: '{t}' is not component:KEY of a component, "
                          f"panel or bonus")
    tie_final = raw.get("tie_final", "demote")
    if tie_final not in TIE_FINAL:
        errors.append(f"{p}.tie_final: '{tie_final}' is not one of {', '.join(TIE_FINAL)}")
    self_inds, windows = _self(raw.get("self_assessment"), scheme, periods, errors)
    how = raw.get("objection_how", "")
    if not isinstance(how, str):
        errors.append(f"{p}.objection_how: expected text")
        how = ""
    if errors:
        return None
    return AnnualScheme(year, days, tuple(components), tuple(items), caps[0], caps[1],
                        tuple(vetoes), tuple(rules), tuple(grades), rounding, tuple(tie_break),
                        tie_final, tuple(self_inds), tuple(windows), tuple(panels), how)


def _components(raw: Any, periods: set[str] | None, panel_keys: set[str],
                errors: list[str]) -> list[Component]:
    p = "ranking.annual.components"
    items = _list(raw, p, errors)
    if not items:
        errors.append(f"{p}: at least one component is needed (which period results count)")
        return []
    out, seen, total = [], set(), Decimal(0)
    for n, d in enumerate(items):
        where = f"{p}[{n}]"
        _unknown(where, d, COMPONENT_KEYS, errors)
        key, name = _keyed(d, where, seen, errors)
        weight = _num(d.get("weight"))
        if weight is None or weight <= 0:
            errors.append(f"{where}.weight: expected a number > 0, got {d.get('weight')!r}")
            weight = Decimal(0)
        total += weight
        pers, panel = d.get("periods", []), d.get("panel", "")
        if bool(pers) == bool(panel):
            errors.append(f"{where}: give either periods (a list of period codes) or panel")
        if pers and (not isinstance(pers, list) or not all(isinstance(x, str) for x in pers)):
            errors.append(f"{where}.periods: expected a list of period codes")
            pers = []
        for code in pers or []:
            if periods is not None and code not in periods:
                errors.append(f"{where}.periods: '{code}' is not a period of this definition")
        if panel and panel not in panel_keys:
            errors.append(f"{where}.panel: no panel '{panel}' in ranking.annual.panels")
        out.append(Component(key, name, weight, tuple(pers or ()), panel or ""))
    if total != HUNDRED:
        errors.append(f"{p}: component weights add up to {format(total.normalize(), 'f')}, "
                      f"not 100")
    return out


def _cap(raw: Any, where: str, errors: list[str], default: Decimal = HUNDRED) -> Decimal:
    if raw is None:
        return default
    value = _num(raw)
    if value is None or value < 0:
        errors.append(f"{where}: expected a number ≥ 0, got {raw!r}")
        return default
    return value


def _items(raw: dict[str, Any], errors: list[str]) -> tuple[list[Item], tuple[Decimal, Decimal]]:
    p = "ranking.annual.adjustments"
    out, seen = [], set()
    for n, d in enumerate(_list(raw.get("adjustments"), p, errors)):
        where = f"{p}[{n}]"
        _unknown(where, d, ITEM_KEYS, errors)
        key, name = _keyed(d, where, seen, errors)
        kind = d.get("kind")
        if kind not in KINDS:
            errors.append(f"{where}.kind: '{kind}' is not bonus or deduction")
        cap = _num(d.get("cap"))
        if cap is None or cap <= 0:
            errors.append(f"{where}.cap: expected a number > 0 (the most this item can give "
                          f"or take), got {d.get('cap')!r}")
            cap = Decimal(0)
        out.append(Item(key, name, kind or "", cap))
    caps = (_cap(raw.get("bonus_cap"), "ranking.annual.bonus_cap", errors),
            _cap(raw.get("deduction_cap"), "ranking.annual.deduction_cap", errors))
    return out, caps


def _fact_source(source: Any, where: str, indicator_keys: set[str] | None,
                 source_keys: set[str] | None, errors: list[str]) -> str:
    if not isinstance(source, str) or not source:
        errors.append(f"{where}.source: name an indicator of the scheme or plugin:KEY")
        return ""
    if source.startswith("plugin:"):
        if source_keys is not None and source[7:] not in source_keys:
            errors.append(f"{where}.source: no loaded plugin provides '{source[7:]}'")
    elif indicator_keys is not None and source not in indicator_keys:
        errors.append(f"{where}.source: unknown indicator '{source}' (not in the scheme)")
    return source


def _vetoes(raw: Any, indicator_keys: set[str] | None, source_keys: set[str] | None,
            errors: list[str]) -> list[Veto]:
    p = "ranking.annual.vetoes"
    out, seen = [], set()
    for n, d in enumerate(_list(raw, p, errors)):
        where = f"{p}[{n}]"
        _unknown(where, d, VETO_KEYS, errors)
        key, name = _keyed(d, where, seen, errors)
        source = _fact_source(d.get("source"), where, indicator_keys, source_keys, errors)
        low = _num(d.get("min", 1))
        if low is None:
            errors.append(f"{where}.min: expected a number")
            low = Decimal(1)
        out.append(Veto(key, name, source, low))
    return out


def _grades(raw: Any, errors: list[str]) -> list[Grade]:
    p = "ranking.annual.grades"
    items = _list(raw, p, errors)
    if len(items) < 2:
        errors.append(f"{p}: at least two grades are needed, best first")
        return []
    out, seen = [], set()
    for n, d in enumerate(items):
        where = f"{p}[{n}]"
        _unknown(where, d, GRADE_KEYS, errors)
        key, name = _keyed(d, where, seen, errors)
        low = _num(d.get("min", 0))
        if low is None:
            errors.append(f"{where}.min: expected a number")
            low = Decimal(0)
        if out and low >= out[-1].min:
            errors.append(f"{where}.min: {format(low.normalize(), 'f')} is not below the "
                          f"grade before it (grades go best first)")
        quota = d.get("quota")
        q = None
        if quota is not None:
            q = _num(quota)
            if q is None or q < 0 or q > HUNDRED:
                errors.append(f"{where}.quota: {quota!r} is outside 0–100 %")
                q = None
            elif n == len(items) - 1:
                errors.append(f"{where}.quota: the last grade takes everyone else and has no "
                              f"quota")
        out.append(Grade(key, name, low, q))
    return out


def _rules(raw: Any, grade_keys: set[str], indicator_keys: set[str] | None,
           source_keys: set[str] | None, errors: list[str]) -> list[Rule]:
    p = "ranking.annual.rules"
    out, seen = [], set()
    for n, d in enumerate(_list(raw, p, errors)):
        where = f"{p}[{n}]"
        _unknown(where, d, RULE_KEYS, errors)
        key, name = _keyed(d, where, seen, errors)
        top = d.get("max_grade")
        if top not in grade_keys:
            errors.append(f"{where}.max_grade: '{top}' is not a grade key")
        bottom = d.get("bottom_count", 0)
        source = ""
        if bottom:
            if isinstance(bottom, bool) or not isinstance(bottom, int) or bottom < 1:
                errors.append(f"{where}.bottom_count: expected a whole number ≥ 1")
                bottom = 0
        else:
            source = _fact_source(d.get("source"), where, indicator_keys, source_keys, errors)
        low = _num(d.get("min", 1))
        if low is None:
            errors.append(f"{where}.min: expected a number")
            low = Decimal(1)
        out.append(Rule(key, name, top or "", source, low, bottom))
    return out


def _self(raw: Any, scheme: Scheme | None, periods: set[str] | None,
          errors: list[str]) -> tuple[list[str], list[Window]]:
    p = "ranking.annual.self_assessment"
    if raw is None:
        return [], []
    if not isinstance(raw, dict):
        errors.append(f"{p}: expected a table")
        return [], []
    _unknown(p, raw, SELF_KEYS, errors)
    inds = raw.get("indicators", [])
    if not isinstance(inds, list):
        errors.append(f"{p}.indicators: expected a list of indicator keys")
        inds = []
    for key in inds:
        ind = scheme.by_key.get(key) if scheme is not None else None
        if scheme is not None and ind is None:
            errors.append(f"{p}.indicators: unknown indicator '{key}'")
        elif ind is not None and not ind.stored:
            errors.append(f"{p}.indicators: '{key}' comes from {ind.source} and cannot be "
                          f"self-assessed")
    windows = []
    for n, d in enumerate(_list(raw.get("windows"), f"{p}.windows", errors)):
        where = f"{p}.windows[{n}]"
        _unknown(where, d, WINDOW_KEYS, errors)
        period = d.get("period")
        if periods is not None and period not in periods:
            errors.append(f"{where}.period: '{period}' is not a period of this definition")
        opens, closes = _date(d.get("opens")), _date(d.get("closes"))
        if opens is None or closes is None:
            errors.append(f"{where}: opens and closes are dates (yyyy-mm-dd)")
        elif closes < opens:
            errors.append(f"{where}.closes: {closes} is before opens {opens}")
        else:
            windows.append(Window(str(period), opens, closes))
    return list(inds), windows


def _panels(raw: Any, errors: list[str]) -> list[Panel]:
    p = "ranking.annual.panels"
    out, seen = [], set()
    for n, d in enumerate(_list(raw, p, errors)):
        where = f"{p}[{n}]"
        _unknown(where, d, PANEL_KEYS, errors)
        key, name = _keyed(d, where, seen, errors)
        if key and not GROUP_KEY_RE.match(key):
            errors.append(f"{where}.key: at most 32 characters")
        scale = d.get("scale", [0, 100])
        lo = hi = None
        if isinstance(scale, list) and len(scale) == 2:
            lo, hi = _num(scale[0]), _num(scale[1])
        if lo is None or hi is None or lo >= hi:
            errors.append(f"{where}.scale: expected [lowest, highest], got {scale!r}")
            lo, hi = Decimal(0), HUNDRED
        trim, least = d.get("trim", 1), d.get("min_raters", 5)
        if isinstance(trim, bool) or not isinstance(trim, int) or trim < 0:
            errors.append(f"{where}.trim: expected a whole number ≥ 0 (dropped at each end)")
            trim = 0
        if isinstance(least, bool) or not isinstance(least, int) or least < 2 * trim + 1:
            errors.append(f"{where}.min_raters: expected a whole number ≥ {2 * trim + 1} "
                          f"(more than the {2 * trim} dropped)")
            least = 2 * trim + 1
        out.append(Panel(key, name, lo, hi, trim, least))
    return out


def validate(raw: Any, scheme: Scheme | None, periods: set[str] | None,
             source_keys: set[str] | None) -> list[str]:
    errors: list[str] = []
    build(raw, scheme, periods, source_keys, errors)
    return errors


def parse(raw: Any, scheme: Scheme | None = None) -> AnnualScheme:
    errors: list[str] = []
    annual = build(raw, scheme, None, None, errors)
    if annual is None:
        raise AnnualError(errors or ["ranking.annual: no section"])
    return annual
