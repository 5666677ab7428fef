"""The working-day calendar for admins: which years are known, loading a year's schedule."""

from __future__ import annotations

import datetime as dt
import tomllib
from typing import Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromQuery, MultipartBody
from litestar.response import Redirect, Template
from tortoise.transactions import in_transaction

from core import audit, i18n, web
from core.calendar import WorkCalendar, load_schedule, parse_schedule
from core.calendar_models import CalendarDay

ADMIN = ("admin",)
TOP_KEYS = {"year", "source", "holidays", "workdays"}
ENTRY_KEYS = {"holidays": ({"name", "days"}, "days"), "workdays": ({"name", "day"}, "day")}
MAX_BYTES = 64 * 1024


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
    if not data.get("holidays"):
        raise ValueError("holidays: no holidays listed (a year always has some)")
    entries = parse_schedule(text)
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


def _years(cal: WorkCalendar) -> list[dict[str, Any]]:
    this = dt.date.today().year
    loaded = cal.loaded_years()
    out = []
    for year in sorted({this - 1, this, this + 1, this + 2} | loaded):
        state = "loaded" if year in loaded else ("builtin" if cal.is_known(year) else "fallback")
        out.append({"year": year, "state": state})
    return out


async def _page(request: Request, status_code: int = 200, error: str = "", text: str = "",
                start: str = "", days: str = "") -> Template:
    cal = await WorkCalendar.load()
    loaded = [await year_summary(y) for y in sorted(cal.loaded_years())]
    result = ""
    if start and days:
        try:
            result = str(cal.add_working_days(dt.date.fromisoformat(start), int(days)))
        except ValueError:
            error = error or i18n.t("calendar.bad_calc", web.language(request))
    return web.page(request, "calendar.html", status_code=status_code, years=_years(cal),
                    loaded=loaded, error=error, text=text, start=start, days=days, result=result)


@get("/calendar", opt={"roles": ADMIN}, include_in_schema=False)
async def calendar_page(request: Request, start: FromQuery[str] = "",
                        days: FromQuery[str] = "") -> Template:
    return await _page(request, start=start, days=days)


@post("/calendar", opt={"roles": ADMIN}, include_in_schema=False)
async def calendar_upload(request: Request, data: MultipartBody[dict]) -> Template | Redirect:
    """Upload (or paste) a year's TOML schedule; errors name the key, nothing is changed."""
    lang = web.language(request)
    upload: UploadFile | None = data.get("file") if isinstance(data.get("file"), UploadFile) else None
    raw = await upload.read() if upload else str(data.get("text") or "").encode()
    if len(raw) > MAX_BYTES:
        return await _page(request, 422, i18n.t("calendar.too_large", lang, kb=MAX_BYTES // 1024))
    text = raw.decode("utf-8", errors="replace")
    try:
        summary = await apply_schedule(text)
    except ValueError as exc:
        return await _page(request, 422, i18n.t("calendar.rejected", lang, error=str(exc)), text)
    msg = i18n.t("calendar.loaded", lang, year=summary["year"], holidays=len(summary["holidays"]),
                 workdays=len(summary["workdays"]))
    return Redirect(path="/calendar?" + urlencode({"msg": msg}))


HANDLERS = [calendar_page, calendar_upload]
