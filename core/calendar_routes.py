"""The working-day calendar for admins: which years are known, loading a year's schedule."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.params import MultipartBody
from litestar.response import Redirect, Template

from core import clock, i18n, web
from core.calendar import WorkCalendar, apply_schedule, year_summary
from core.params import Code12
from core.roles import ADMIN_ONLY

ADMIN = ADMIN_ONLY
MAX_BYTES = 64 * 1024


def _years(cal: WorkCalendar) -> list[dict[str, Any]]:
    this = clock.today().year
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
async def calendar_page(request: Request, start: Code12 = "",
                        days: Code12 = "") -> Template:
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
