"""Working-day calendar: State Council schedule with make-up workdays (调休).

Known years come from the `chinese_calendar` package; admins load further years from a
TOML file into CalendarDay; an unknown year falls back to Monday–Friday with a warning.
"""

from __future__ import annotations

import datetime as dt
import logging
import tomllib
from typing import Any

import chinese_calendar
from tortoise.transactions import in_transaction

from core import audit
from core.calendar_models import CalendarDay

log = logging.getLogger("kaohe.calendar")


class WorkCalendar:
    def __init__(self, overrides: dict[dt.date, bool] | None = None):
        self.overrides = overrides or {}
        self.fallback_years: set[int] = set()
        self._years = {d.year for d in self.overrides}
        # Answers so far: a scan asks about the same few hundred days thousands of times.
        self._seen: dict[dt.date, bool] = {}

    @classmethod
    async def load(cls) -> WorkCalendar:
        rows = await CalendarDay.all().values_list("day", "is_workday")
        return cls({day: bool(flag) for day, flag in rows})

    def loaded_years(self) -> set[int]:
        return set(self._years)

    def is_workday(self, day: dt.date) -> bool:
        seen = self._seen.get(day)
        if seen is None:
            seen = self._seen[day] = self._is_workday(day)
        return seen

    def _is_workday(self, day: dt.date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        if day.year in self._years:
            return day.weekday() < 5
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError:
            if day.year not in self.fallback_years:
                self.fallback_years.add(day.year)
                log.warning("no holiday schedule for %s: counting Monday–Friday; "
                            "load the year's schedule with `kaohe calendar load`", day.year)
            return day.weekday() < 5

    def add_working_days(self, start: dt.date, days: int) -> dt.date:
        """The date `days` working days after `start` (start itself not counted)."""
        day, left = start, days
        while left > 0:
            day += dt.timedelta(days=1)
            if self.is_workday(day):
                left -= 1
        return day

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days in (start, end]; negative when end is before start."""
        if end < start:
            return -self.working_days_between(end, start)
        count, day = 0, start
        while day < end:
            day += dt.timedelta(days=1)
            count += self.is_workday(day)
        return count

    def first_workday_of_month(self, year: int, month: int) -> dt.date:
        day = dt.date(year, month, 1)
        while not self.is_workday(day):
            day += dt.timedelta(days=1)
        return day

    def is_known(self, year: int) -> bool:
        if year in self.loaded_years():
            return True
        try:
            chinese_calendar.is_workday(dt.date(year, 6, 1))
            return True
        except NotImplementedError:
            return False


def parse_schedule(text: str) -> list[tuple[dt.date, bool, str]]:
    """TOML: year = 2027, holidays = [{name, days=[dates]}], workdays = [{name, day}]."""
    data = tomllib.loads(text)
    year = data.get("year")
    if not isinstance(year, int):
        raise ValueError("year: expected an integer year")
    out: list[tuple[dt.date, bool, str]] = []
    for i, h in enumerate(data.get("holidays", [])):
        for j, d in enumerate(h.get("days", [])):
            if not isinstance(d, dt.date) or d.year != year:
                raise ValueError(f"holidays[{i}].days[{j}]: expected a date in {year}")
            out.append((d, False, h.get("name", "")))
    for i, w in enumerate(data.get("workdays", [])):
        d = w.get("day")
        if not isinstance(d, dt.date) or d.year != year:
            raise ValueError(f"workdays[{i}].day: expected a date in {year}")
        out.append((d, True, w.get("name", "调休")))
    return out


async def load_schedule(text: str) -> int:
    """Store a year's schedule: every day of the year, weekends and listed days applied."""
    entries = parse_schedule(text)
    year = tomllib.loads(text)["year"]
    special = {d: (flag, name) for d, flag, name in entries}
    await CalendarDay.filter(day__gte=dt.date(year, 1, 1), day__lte=dt.date(year, 12, 31)).delete()
    rows, day = [], dt.date(year, 1, 1)
    while day.year == year:
        flag, name = special.get(day, (day.weekday() < 5, ""))
        rows.append(CalendarDay(day=day, is_workday=flag, name=name))
        day += dt.timedelta(days=1)
    await CalendarDay.bulk_create(rows)
    return len(rows)


TOP_KEYS = {"year", "source", "holidays", "workdays"}
ENTRY_KEYS = {"holidays": ({"name", "days"}, "days"), "workdays": ({"name", "day"}, "day")}


def check_schedule(text: str) -> list[tuple[dt.date, bool, str]]:
    """`parse_schedule` plus what it lets through: unknown or missing keys, a day listed twice.

    Raises ValueError whose message starts with the key path, e.g. `holidays[2].dayz: ...`.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"not valid TOML: {exc}") from None
    for key in data:
        if key not in TOP_KEYS:
            raise ValueError(f"{key}: unknown key (expected: {', '.join(sorted(TOP_KEYS))})")
    for table, (allowed, required) in ENTRY_KEYS.items():
        entries = data.get(table, [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise ValueError(f"{table}: expected a list of tables ([[{table}]])")
        for i, entry in enumerate(entries):
            for key in entry:
                if key not in allowed:
                    raise ValueError(f"{table}[{i}].{key}: unknown key "
                                     f"(expected: {', '.join(sorted(allowed))})")
            if required not in entry:
                raise ValueError(f"{table}[{i}].{required}: missing")
            if table == "holidays" and not isinstance(entry["days"], list):
                raise ValueError(f"holidays[{i}].days: expected a list of dates")
    entries = parse_schedule(text)
    if not data.get("holidays"):
        raise ValueError("holidays: no holidays listed (a year always has some)")
    seen: dict[dt.date, bool] = {}
    for day, is_workday, _ in entries:
        if day in seen:
            what = "both a holiday and a workday" if seen[day] != is_workday else "twice"
            raise ValueError(f"{'workdays' if is_workday else 'holidays'}: {day} is listed {what}")
        seen[day] = is_workday
    return entries


async def year_summary(year: int) -> dict[str, Any] | None:
    """What a loaded year holds: weekday holidays and weekend workdays, or None if not loaded."""
    rows = await CalendarDay.filter(day__gte=dt.date(year, 1, 1),
                                    day__lte=dt.date(year, 12, 31)).order_by("day")
    if not rows:
        return None
    special = [r for r in rows if r.is_workday != (r.day.weekday() < 5) or r.name]
    return {"year": year, "days": len(rows),
            "holidays": [str(r.day) for r in special if not r.is_workday],
            "workdays": [str(r.day) for r in special if r.is_workday]}


async def apply_schedule(text: str) -> dict[str, Any]:
    """Check and store a year's schedule atomically; audited with the year's old and new days."""
    entries = check_schedule(text)
    year = entries[0][0].year
    async with in_transaction():
        before = await year_summary(year)
        await load_schedule(text)
        after = await year_summary(year)
        await audit.record("calendar.load", "calendar_year", year, before=before, after=after)
    return after or {}
