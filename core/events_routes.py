"""The event deliveries page for admins (/jobs/events): every delivery waiting or failed, and
every delivery a listener refused, by listener and page; retry or deliver again from it."""

from __future__ import annotations

from urllib.parse import quote
from zoneinfo import ZoneInfo

from litestar import Request, get, post
from litestar.params import URLEncodedBody
from litestar.response import Redirect, Template

from core import events, events_admin, i18n, web
from core.errors import Invalid
from core.paging import DEFAULT_SIZE, Paged, clamp
from core.params import PageNo, PageSize, Slug, choice
from core.plugins import get_host
from core.roles import ADMIN_ONLY

ADMIN = {"roles": ADMIN_ONLY}
SHOWS = ("waiting", "refused")
Show = choice(SHOWS)


@get("/jobs/events", opt=ADMIN, include_in_schema=False)
async def events_page(request: Request, show: Show = "waiting", listener: Slug = None,
                      page: PageNo = 1, size: PageSize = DEFAULT_SIZE) -> Template:
    show = show or "waiting"
    listeners = events.listeners(get_host())
    listener = listener if listener in listeners else None
    if show == "refused":
        total = (await events_admin.refused(listener, limit=1))[1]
    else:
        total = await events.undelivered(listener=listener).count()
    page, size = clamp(page, size)
    page = min(page, max(1, -(-total // size)))  # past the end: the last page
    if show == "refused":
        rows, _ = await events_admin.refused(listener, size, (page - 1) * size)
    else:
        rows = await events.undelivered(listener=listener).order_by("-id").offset(
            (page - 1) * size).limit(size).select_related("event")
    pager = Paged.of(rows, total, page, size, request)
    counts = {"waiting": await events.undelivered().count(),
              "refused": (await events_admin.refused(limit=1))[1]}
    return web.page(request, "events.html", show=show, rows=rows, pager=pager,
                    listener=listener or "", listeners=listeners, counts=counts,
                    reason_of=events_admin.reason_of,
                    zone=ZoneInfo(request.app.state.settings.app.timezone),
                    max_attempts=events.MAX_ATTEMPTS)


@post("/jobs/events/redeliver", opt=ADMIN, include_in_schema=False)
async def events_redeliver(request: Request, data: URLEncodedBody[dict[str, str]]) -> Redirect:
    """Deliver one refused delivery (`delivery`) again to its listener."""
    lang = web.language(request)
    raw = (data.get("delivery") or "").strip()
    if not (raw.isdigit() and 0 < int(raw) < 2**63):
        raise Invalid("invalid_delivery", i18n.t("events.bad_delivery", lang), field="delivery")
    report = await events_admin.redeliver([int(raw)], host=request.app.state.host)
    again = [o for o in report.outcomes if o.delivered and isinstance(o.result, dict)
             and o.result.get("status") == events_admin.REFUSED]
    msg = i18n.t("events_admin.redelivered", lang, delivered=len(report.delivered) - len(again),
                 refused=len(again), failed=len(report.failed))
    return Redirect(path=f"/jobs/events?show=refused&msg={quote(msg)}")


HANDLERS = [events_page, events_redeliver]
