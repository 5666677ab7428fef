"""The platform clock: the only source of "now" and "today".

Every service, job, exporter, page and CLI command asks this module for the time, so a demo
or training instance can be pinned to a day (`[app] today = "2014-12-31"`, or
KAOHE_APP__TODAY) and behave as if it were that day. While pinned, the wall-clock time of day
still moves, so stamps stay in order. The timezone comes from `[app] timezone` only.

`travel(day)` moves a pinned clock (the demo walks through its year with it).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt.UTC


class ClockError(ValueError):
    """A pinned day or timezone that cannot be used; the message names the setting."""


_tz: ZoneInfo = ZoneInfo("Asia/Shanghai")
_pinned: dt.date | None = None


def parse_day(value: str | dt.date | None, key: str = "app.today") -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ClockError(f"settings: {key}: {value!r} is not a date (yyyy-mm-dd)") from None


def configure(timezone: str, today: str | dt.date | None = None) -> None:
    """Set the zone and the pinned day from settings (called at boot)."""
    global _tz, _pinned
    try:
        _tz = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ClockError(f"settings: app.timezone: unknown timezone {timezone!r}") from None
    _pinned = parse_day(today)


def travel(day: dt.date | None) -> None:
    """Pin the clock to `day` (None: follow the real clock again)."""
    global _pinned
    _pinned = day


def tz() -> ZoneInfo:
    """The configured timezone."""
    return _tz


def pinned() -> dt.date | None:
    """The pinned day, or None when the clock follows real time."""
    return _pinned


def local_now() -> dt.datetime:
    """Now, aware, in the configured timezone."""
    real = dt.datetime.now(_tz)
    if _pinned is None:
        return real
    return real.replace(year=_pinned.year, month=_pinned.month, day=_pinned.day)


def now() -> dt.datetime:
    """Now, aware, in UTC (what is stored)."""
    return local_now().astimezone(UTC)


def today() -> dt.date:
    """Today in the configured timezone."""
    return local_now().date()


def localize(value: dt.datetime) -> dt.datetime:
    """An aware datetime shown in the configured timezone (naive ones are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(_tz)
