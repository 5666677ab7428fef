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
    _stamp_orm()


def _stamp_orm() -> None:
    """Tortoise stamps auto_now / auto_now_add fields (created_at, updated_at …) with its own
    tortoise.timezone.now; point it here so stored stamps follow a pinned clock too."""
    import tortoise.timezone as orm_tz

    if getattr(orm_tz.now, "platform_clock", False):
        return

    def orm_now() -> dt.datetime:
        moment = now()
        return moment if orm_tz.get_use_tz() else moment.astimezone(_tz).replace(tzinfo=None)

    orm_now.platform_clock = True  # type: ignore[attr-defined]
    orm_tz.now = orm_now


def travel(day: dt.date | None) -> None:
    """Pin the clock to `day` (None: follow the real clock again)."""
    global _pinned
    _pinned = day
    _stamp_orm()


def tz() -> ZoneInfo:
    """The configured timezone."""
    return _tz


def pinned() -> dt.date | None:
    """The pinned day, or None when the clock follows real time."""
    return _pinned


def on_platform(moment: dt.datetime) -> dt.datetime:
    """A machine moment as the platform sees it, in the configured timezone: on a pinned
    clock, the same time of day on the pinned day. The scheduler fires by the machine's
    clock and hands its jobs this moment, so jobs run on the pinned day."""
    local = localize(moment)
    if _pinned is None:
        return local
    return local.replace(year=_pinned.year, month=_pinned.month, day=_pinned.day)


def machine_now() -> dt.datetime:
    """The machine's own clock, aware, in UTC, never pinned. Only the scheduler's firing
    bookkeeping uses it (APScheduler fires by the machine's clock); what a job does takes
    its time from JobContext.now / today, which are on the platform clock."""
    return dt.datetime.now(UTC)


def local_now() -> dt.datetime:
    """Now, aware, in the configured timezone."""
    return on_platform(dt.datetime.now(_tz))


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
