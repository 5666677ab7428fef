"""Settings of the plugin and its [satisfaction] section of an assessment definition."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import msgspec

from core.orgs import LEVELS, PERIOD_RE

KINDS = ("sat3", "scale5", "yesno", "text")
# Values stored per kind: sat3 1 满意 2 基本满意 3 不满意; scale5 1–5; yesno 1 是 2 否.
CHOICES = {"sat3": (1, 2, 3), "scale5": (1, 2, 3, 4, 5), "yesno": (1, 2)}
POSITIVE = {"sat3": (1, 2), "scale5": (4, 5), "yesno": (1,)}
FLAGS = ("too_fast", "busy_address", "no_device")
RULES = ("rate", "points")
DEFAULT_POINTS = {"sat3": {1: 100, 2: 80, 3: 0}, "scale5": {1: 0, 2: 25, 3: 50, 4: 75, 5: 100},
                  "yesno": {1: 100, 2: 0}}


class SatisfactionSettings(msgspec.Struct, forbid_unknown_fields=True):
    # Hard limit: submissions per address per survey within the window are refused above it.
    rate_limit: int = 30
    rate_window_minutes: int = 60
    # Soft limit: from this many responses per address per survey and day on, flag busy_address
    # (a service hall's shared Wi-Fi is legitimate, so it is flagged, not refused).
    busy_address: int = 10
    form_hours: int = 6  # a form token is valid this long after the page was served
    close_cron: str = "10 0 * * *"
    retry_cron: str = "*/10 * * * *"


class Question(msgspec.Struct, forbid_unknown_fields=True):
    key: str
    text: str
    kind: str
    required: bool = True
    complaint: bool = False  # a text answer the respondent may mark as a complaint
    labels: list[str] = []


class UnitSpec(msgspec.Struct, forbid_unknown_fields=True):
    level: str = ""
    within: str = ""
    codes: list[str] = []


class SurveyDef(msgspec.Struct, forbid_unknown_fields=True):
    key: str
    title: str
    period: str
    opens: dt.date
    closes: dt.date
    units: UnitSpec
    quota: int = 0
    index: str = "overall"
    safety: str = ""
    rule: str = "rate"
    points: dict[str, int] = {}
    previous: str = ""
    questions: list[Question] = []


class Section(msgspec.Struct, forbid_unknown_fields=True):
    min_seconds: int = 20
    exclude: list[str] = msgspec.field(default_factory=lambda: ["too_fast", "busy_address"])
    questions: list[Question] = []
    surveys: list[SurveyDef] = []


def _path_error(err: msgspec.ValidationError) -> str:
    text, _, where = str(err).partition(" - at `$")
    where = where.rstrip("`")
    unknown = re.match(r"Object contains unknown field `(.+)`", text)
    if unknown:
        return f"satisfaction{where}.{unknown.group(1)}: unknown key"
    return f"satisfaction{where}: {text}"


def parse_section(section: dict[str, Any]) -> Section:
    return msgspec.convert(section, Section, strict=False)


def questions_of(sec: Section, survey: SurveyDef) -> list[Question]:
    return survey.questions or sec.questions


def validate(section: dict[str, Any], definition: dict[str, Any]) -> list[str]:
    """Errors naming key paths, e.g. `satisfaction.surveys[1].closes: ...`."""
    try:
        sec = parse_section(section)
    except msgspec.ValidationError as exc:
        return [_path_error(exc)]
    errors: list[str] = []
    p = "satisfaction"
    if sec.min_seconds < 0 or sec.min_seconds > 3600:
        errors.append(f"{p}.min_seconds: {sec.min_seconds} is not between 0 and 3600")
    for i, flag in enumerate(sec.exclude):
        if flag not in FLAGS:
            errors.append(f"{p}.exclude[{i}]: '{flag}' is not one of {', '.join(FLAGS)}")
    errors += _check_questions(sec.questions, f"{p}.questions")
    units = {u.get("code") for u in definition.get("units", []) if isinstance(u, dict)}
    periods = {x.get("code") for x in definition.get("periods", []) if isinstance(x, dict)}
    keys: set[str] = set()
    for i, s in enumerate(sec.surveys):
        w = f"{p}.surveys[{i}]"
        if not s.key or not s.key.replace("-", "").replace("_", "").isalnum() or len(s.key) > 40:
            errors.append(f"{w}.key: '{s.key}' must be 1–40 letters, digits, - or _")
        if s.key in keys:
            errors.append(f"{w}.key: '{s.key}' appears twice")
        keys.add(s.key)
        if not PERIOD_RE.match(s.period):
            errors.append(f"{w}.period: '{s.period}' is not a period code like 2014 or 2014H1")
        elif periods and s.period not in periods:
            errors.append(f"{w}.period: '{s.period}' is not one of the [[periods]] of this file")
        if s.closes < s.opens:
            errors.append(f"{w}.closes: {s.closes} is before opens {s.opens}")
        if s.quota < 0:
            errors.append(f"{w}.quota: {s.quota} is negative")
        if s.rule not in RULES:
            errors.append(f"{w}.rule: '{s.rule}' is not one of {', '.join(RULES)}")
        if s.units.level and s.units.level not in LEVELS:
            errors.append(f"{w}.units.level: '{s.units.level}' is not one of {', '.join(LEVELS)}")
        if not s.units.codes and not s.units.level:
            errors.append(f"{w}.units: name the units by level (and within) or by codes")
        for j, code in enumerate(s.units.codes):
            if units and code not in units and not s.units.level:
                errors.append(f"{w}.units.codes[{j}]: '{code}' is not a unit of this file")
        if s.units.within and units and s.units.within not in units:
            errors.append(f"{w}.units.within: '{s.units.within}' is not a unit of this file")
        if s.previous and s.previous not in keys:
            errors.append(f"{w}.previous: '{s.previous}' is not a survey defined above this one")
        qs = questions_of(sec, s)
        if s.questions:
            errors += _check_questions(s.questions, f"{w}.questions")
        if not qs:
            errors.append(f"{w}.questions: the survey has no questions (here or in "
                          f"satisfaction.questions)")
            continue
        by_key = {q.key: q for q in qs}
        for field, required in (("index", True), ("safety", False)):
            name = getattr(s, field)
            if not name and not required:
                continue
            q = by_key.get(name)
            if q is None:
                errors.append(f"{w}.{field}: no question with key '{name}'")
            elif q.kind == "text":
                errors.append(f"{w}.{field}: question '{name}' is free text and cannot be scored")
        if s.rule == "points" and s.points:
            kind = by_key[s.index].kind if s.index in by_key else "sat3"
            allowed = {str(v) for v in CHOICES.get(kind, ())}
            for k in s.points:
                if k not in allowed:
                    errors.append(f"{w}.points.{k}: not an answer value of a {kind} question "
                                  f"({', '.join(sorted(allowed))})")
    return errors


def _check_questions(qs: list[Question], where: str) -> list[str]:
    errors, seen = [], set()
    for i, q in enumerate(qs):
        w = f"{where}[{i}]"
        if q.kind not in KINDS:
            errors.append(f"{w}.kind: '{q.kind}' is not one of {', '.join(KINDS)}")
        if not q.key or not q.key.replace("_", "").isalnum():
            errors.append(f"{w}.key: '{q.key}' must be letters, digits or _")
        if q.key in seen:
            errors.append(f"{w}.key: '{q.key}' appears twice")
        seen.add(q.key)
        if q.complaint and q.kind != "text":
            errors.append(f"{w}.complaint: only a text question can be marked as a complaint")
        if q.labels and q.kind in CHOICES and len(q.labels) != len(CHOICES[q.kind]):
            errors.append(f"{w}.labels: a {q.kind} question needs {len(CHOICES[q.kind])} labels, "
                          f"not {len(q.labels)}")
        if not q.text.strip():
            errors.append(f"{w}.text: empty")
    return errors


def points_of(survey: dict[str, Any], kind: str) -> dict[int, int]:
    given = survey.get("points") or {}
    if given:
        return {int(k): int(v) for k, v in given.items()}
    return DEFAULT_POINTS.get(kind, {})
