"""Web shell: navigation and dashboard panels from plugins, page rendering, core pages."""

from __future__ import annotations

import inspect
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, get
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template

from core import clock, downloads, i18n
from core.contrib import NavItem, Panel
from core.plugins import get_host
from core.roles import ADMIN_LEADER_OFFICER, ADMIN_ONLY, ALL
from core.security import current_user

CORE_NAV = [
    NavItem("nav.dashboard", "/", ALL, 0),
    NavItem("nav.inbox", "/inbox", ALL, 90),
    NavItem("nav.archive", "/archive", ADMIN_LEADER_OFFICER, 91),
    NavItem("nav.assessments", "/assessments", ADMIN_ONLY, 92),
    NavItem("periods.nav", "/periods", ADMIN_ONLY, 92),
    NavItem("units.nav", "/units", ADMIN_ONLY, 92),
    NavItem("nav.jobs", "/jobs", ADMIN_ONLY, 93),
    NavItem("nav.audit", "/audit", ADMIN_ONLY, 94),
    NavItem("nav.users", "/users", ADMIN_ONLY, 95),
    NavItem("nav.calendar", "/calendar", ADMIN_ONLY, 96),
    NavItem("nav.mail", "/mail", ADMIN_ONLY, 97),
    NavItem("tokens.nav", "/tokens", ALL, 98),
]


def language(request: Request) -> str:
    lang = request.cookies.get("lang")
    user = current_user(request)
    if not lang and user is not None and user.language:
        lang = user.language
    if lang not in i18n.LANGUAGES:
        lang = request.app.state.settings.app.language
    return lang if lang in i18n.LANGUAGES else i18n.DEFAULT


def nav_for(user: Any) -> list[NavItem]:
    if user is None:
        return []
    items = list(CORE_NAV) + [item for _, item in get_host().collect("kaohe_nav_items")]
    return sorted((i for i in items if user.role in i.roles), key=lambda i: (i.order, i.path))


def filesize(size: int | None, lang: str = i18n.DEFAULT) -> str:
    """A file's size as people read it: bytes under 1 KB (a 33-byte file is not "0.0 KB")."""
    size = size or 0
    if size < 1024:
        return i18n.t("common.bytes", lang, n=size)
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> Template:
    """Render a page with the shell's context: user, navigation, language, CSRF token."""
    lang = language(request)
    user = current_user(request)
    session = request.scope.get("kaohe_session")
    ctx = {
        "user": user, "nav": nav_for(user), "lang": lang, "_": partial(i18n.t, lang=lang),
        "filesize": partial(filesize, lang=lang), "actor": partial(i18n.actor, lang=lang),
        "exporter_title": partial(i18n.exporter_title, lang=lang),
        "csrf": session.csrf_token if session else "", "path": request.url.path,
        "flash": request.query_params.get("msg", ""),
        # A demo or training instance says on every page which day it lives on.
        "pinned_day": clock.pinned().isoformat() if clock.pinned() else "",
    }
    ctx.update(context)
    # htmx asks for the part that changes (filters, paging, pickers); a plain request, or one
    # without JavaScript, gets the whole page from the same handler.
    ctx["hx_partial"] = (request.headers.get("hx-request") == "true"
                         and request.headers.get("hx-target") == "results"
                         and request.headers.get("hx-boosted") != "true")
    # A page is HTML whatever the handler's annotation says (an `-> Any` handler would
    # otherwise send the page as application/json, and browsers show its source).
    return Template(template_name=template, context=ctx, status_code=status_code,
                    media_type="text/html", headers={"Vary": "HX-Request, HX-Target"})


async def panels_for(user: Any) -> list[Panel]:
    found: list[Panel] = []
    for impl in reversed(get_host().pm.hook.kaohe_dashboard_panels.get_hookimpls()):
        result = impl.function(user=user)
        if inspect.isawaitable(result):
            result = await result
        found.extend(result or [])
    return sorted(found, key=lambda p: p.order)


@get("/", opt={"roles": ALL}, include_in_schema=False)
async def dashboard(request: Request) -> Template:

    from core.calendar import WorkCalendar

    user = current_user(request)
    warnings = []
    if user.role == "admin":
        cal = await WorkCalendar.load()
        for year in (clock.today().year, clock.today().year + 1):
            if not cal.is_known(year):
                warnings.append(i18n.t("dashboard.calendar_warning", language(request), year=year))
    return page(request, "dashboard.html", panels=await panels_for(user), warnings=warnings)


def download(data: bytes, filename: str, media_type: str | None = None, *,
             inline: bool = False, cache: str = "no-store") -> Response:
    """The one file answer: media type from the name unless given, the RFC 6266 header, and
    no caching of generated or private files."""
    return Response(data, media_type=media_type or downloads.media_type(filename), headers={
        "Content-Disposition": downloads.content_disposition(filename, inline=inline),
        "Cache-Control": cache})


def local_path(target: str) -> str:
    """`target` when it is a path on this site, else "/". Browsers read //host/… and /\\host/…
    as another site, and drop tabs and newlines first (a tab between two slashes too)."""
    cleaned = "".join(c for c in target if c >= " ")
    if cleaned != target or not target.startswith("/") or target[:2] in ("//", "/\\"):
        return "/"
    return target


@get("/lang/{code:str}", opt={"public": True}, include_in_schema=False)
async def switch_language(request: Request, code: FromPath[str]) -> Redirect:
    # Only the path of the referring page, and only a same-site one: a path like
    # //evil.example/x (or /\evil.example) would send the browser off-site.
    target = urlsplit(request.headers.get("referer") or "/").path or "/"
    if not target.startswith("/") or target.startswith(("//", "/\\")):
        target = "/"
    response = Redirect(path=target)
    if code in i18n.LANGUAGES:
        response.set_cookie("lang", code, max_age=365 * 86400, httponly=True, samesite="lax")
    return response
