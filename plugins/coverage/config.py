"""The plugin's instance settings ([coverage] of settings.toml) and its section of an
assessment definition ([coverage] of assessments/*.toml: the reporting rules)."""

from __future__ import annotations

from typing import Any

import msgspec

PERIOD_KINDS = ("year", "half", "quarter", "month")


class CoverageSettings(msgspec.Struct, forbid_unknown_fields=True):
    scan_cron: str = "0 8 1 * *"  # 应建未建 scan: 08:00 on the first of each month
    reminder_cron: str = "0 9 * * *"  # reminder check: every day at 09:00
    freeze_cron: str = "30 1 * * *"  # freeze the figures of newly closed periods
    upload_ttl_minutes: int = 120  # how long an upload waits for its confirmation
    progress_min_rows: int = 2000  # the CLI shows a progress bar from this many rows


class CoverageDefinition(msgspec.Struct, forbid_unknown_fields=True):
    report_period_kind: str = "quarter"  # instructors report once per such period
    remind_working_days: int = 5  # remind this many working days before the period ends
    should_establish_min_formal: int = 3  # 应建未建: formal members at least this many


def validate_section(section: dict[str, Any]) -> list[str]:
    try:
        value = msgspec.convert(section, CoverageDefinition)
    except msgspec.ValidationError as exc:
        text, _, where = str(exc).partition(" - at `$")
        where = where.rstrip("`")
        return [f"coverage{where}: {text.replace('Object contains unknown field', 'unknown key')}"]
    errors = []
    if value.report_period_kind not in PERIOD_KINDS:
        errors.append(f"coverage.report_period_kind: '{value.report_period_kind}' is not one of "
                      f"{', '.join(PERIOD_KINDS)}")
    if not 0 <= value.remind_working_days <= 60:
        errors.append("coverage.remind_working_days: expected 0 to 60 working days")
    if value.should_establish_min_formal < 1:
        errors.append("coverage.should_establish_min_formal: expected at least 1")
    return errors


async def definition() -> CoverageDefinition:
    """The [coverage] section of the newest applied definition, defaults where absent."""
    from core.assessments import latest_data

    data = (await latest_data()).get("coverage") or {}
    try:
        return msgspec.convert(data, CoverageDefinition)
    except msgspec.ValidationError:
        return CoverageDefinition()


def settings_of(settings: Any) -> CoverageSettings:
    value = settings.plugin("coverage") if settings is not None else None
    return value or CoverageSettings()
