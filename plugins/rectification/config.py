"""Settings of the plugin and its section of an assessment definition (deadline table)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from plugins.rectification.models import SEVERITIES

DEFAULT_SOURCES = ["inspection", "supervision", "petition", "hotline_12319", "grid"]
DEFAULT_DAYS = {"urgent": 3, "serious": 10, "general": 20}


class RectificationSettings(msgspec.Struct, forbid_unknown_fields=True):
    evidence_dir: str = ""  # empty: <storage.evidence_dir>/rectification
    evidence_types: list[str] = msgspec.field(default_factory=lambda: [
        "pdf", "jpg", "jpeg", "png", "doc", "docx", "xls", "xlsx", "txt"])
    max_evidence_kb: int = 10240
    max_files_per_upload: int = 10
    require_evidence: bool = True
    reminder_days: int = 3
    scan_cron: str = "30 1 * * *"


@dataclass
class Definition:
    """The [rectification] section of the current assessment definition, with defaults."""

    sources: list[str] = field(default_factory=lambda: list(DEFAULT_SOURCES))
    categories: dict[str, str] = field(default_factory=lambda: {"general": "综合"})
    deadline_days: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_DAYS))
    category_days: dict[str, dict[str, int]] = field(default_factory=dict)
    max_extensions: int = 2
    max_extension_days: int = 20
    overdue_thresholds: list[int] = field(default_factory=lambda: [1, 15, 30])

    def working_days(self, severity: str, category: str) -> int:
        return self.category_days.get(category, {}).get(severity, self.deadline_days[severity])


def definition_from(data: dict[str, Any]) -> Definition:
    section = (data or {}).get("rectification") or {}
    d = Definition()
    if "sources" in section:
        d.sources = list(section["sources"])
    if "categories" in section:
        d.categories = {c["code"]: c.get("name", c["code"]) for c in section["categories"]}
    table = section.get("deadline_days") or {}
    d.deadline_days.update({k: v for k, v in table.items() if isinstance(v, int)})
    d.category_days = {k: dict(v) for k, v in table.items() if isinstance(v, dict)}
    for key in ("max_extensions", "max_extension_days"):
        if key in section:
            setattr(d, key, section[key])
    if "overdue_thresholds" in section:
        d.overdue_thresholds = sorted(section["overdue_thresholds"])
    return d


async def current_definition() -> Definition:
    from core.assessments import latest_data

    return definition_from(await latest_data())


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


KNOWN_KEYS = {"sources", "categories", "deadline_days", "max_extensions", "max_extension_days",
              "overdue_thresholds"}


def validate(section: dict[str, Any]) -> list[str]:
    """Errors naming key paths, e.g. `rectification.deadline_days.safety.urgent: ...`."""
    p = "rectification"
    errors = [f"{p}.{k}: unknown key (known: {', '.join(sorted(KNOWN_KEYS))})"
              for k in section if k not in KNOWN_KEYS]
    sources = section.get("sources", DEFAULT_SOURCES)
    if not isinstance(sources, list) or not sources or not all(isinstance(s, str) and s
                                                               for s in sources):
        errors.append(f"{p}.sources: expected a non-empty list of source codes")
    codes: list[str] = []
    for i, cat in enumerate(section.get("categories", [])):
        if not isinstance(cat, dict) or not isinstance(cat.get("code"), str) or not cat["code"]:
            errors.append(f"{p}.categories[{i}].code: expected a text code")
            continue
        if cat["code"] in codes:
            errors.append(f"{p}.categories[{i}].code: '{cat['code']}' appears twice")
        codes.append(cat["code"])
    table = section.get("deadline_days", {})
    if not isinstance(table, dict):
        errors.append(f"{p}.deadline_days: expected a table of working days by severity")
        table = {}
    for key, value in table.items():
        if isinstance(value, dict):
            if codes and key not in codes:
                errors.append(f"{p}.deadline_days.{key}: '{key}' is not a category code")
            for sev, days in value.items():
                if sev not in SEVERITIES:
                    errors.append(f"{p}.deadline_days.{key}.{sev}: not a severity "
                                  f"({', '.join(SEVERITIES)})")
                elif not _positive_int(days):
                    errors.append(f"{p}.deadline_days.{key}.{sev}: expected a positive whole "
                                  f"number of working days, got {days!r}")
        elif key not in SEVERITIES:
            errors.append(f"{p}.deadline_days.{key}: not a severity ({', '.join(SEVERITIES)}) "
                          f"nor a category table")
        elif not _positive_int(value):
            errors.append(f"{p}.deadline_days.{key}: expected a positive whole number of "
                          f"working days, got {value!r}")
    for key in ("max_extensions", "max_extension_days"):
        value = section.get(key, 1)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            errors.append(f"{p}.{key}: expected a whole number >= 0, got {value!r}")
    thresholds = section.get("overdue_thresholds", [1])
    if (not isinstance(thresholds, list) or not thresholds
            or not all(_positive_int(t) for t in thresholds)):
        errors.append(f"{p}.overdue_thresholds: expected a list of positive working-day counts")
    elif sorted(set(thresholds)) != thresholds:
        errors.append(f"{p}.overdue_thresholds: expected increasing values without repeats")
    return errors
