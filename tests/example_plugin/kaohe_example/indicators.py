"""An indicator a ranking can pull: notes left about each unit in a period's time."""

from __future__ import annotations

from core.contrib import IndicatorSource
from core.orgs import Period
from kaohe_example.models import Note


async def note_count(period_code: str, unit_codes: list[str]) -> dict[str, float | None]:
    period = await Period.get_or_none(code=period_code)
    if period is None:
        return {code: None for code in unit_codes}
    rows = await Note.filter(unit__code__in=unit_codes, created_at__gte=period.start).values_list(
        "unit__code", "created_at")
    counts = dict.fromkeys(unit_codes, 0.0)
    for code, at in rows:
        if at.date() <= period.end:
            counts[code] += 1
    return counts


def sources() -> list[IndicatorSource]:
    return [IndicatorSource("example.note_count", "示例记录数", "条", note_count,
                            higher_is_better=False)]
