"""The periods page for admins: the list, adding one, closing and reopening after a
confirmation page (core.periods does the work)."""

from __future__ import annotations

from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.params import URLEncodedBody
from litestar.response import Redirect, Template

from core import clock, i18n, periods, web
from core.errors import KaoheError, field_errors
from core.params import path_text
from core.roles import ADMIN_ONLY

ADMIN = {"roles": ADMIN_ONLY}
Code = path_text(16)
Action = path_text(8)
ACTIONS = ("close", "reopen")


async def _page(request: Request, status_code: int = 200, errors: dict[str, str] | None = None,
                form: dict[str, str] | None = None) -> Template:
    lang = web.language(request)
    rows = await periods.listing()
    return web.page(request, "periods.html", status_code=status_code, rows=rows,
                    names={p.code: periods.name(p, lang) for p in rows},
                    parts=[(p, periods.part_label(p, lang)) for p in periods.PARTS],
                    errors=errors or {}, form=form or {"part": "year"}, tz=clock.tz())


@get("/periods", opt=ADMIN, include_in_schema=False)
async def periods_page(request: Request) -> Template:
    return await _page(request)


@post("/periods", opt=ADMIN, include_in_schema=False)
async def periods_add(request: Request, data: URLEncodedBody[dict[str, str]]) -> Template | Redirect:
    lang = web.language(request)
    form = {"year": (data.get("year") or "").strip(), "part": data.get("part") or ""}
    try:
        period = await periods.add(form["year"], form["part"], lang)
    except KaoheError as exc:
        return await _page(request, exc.status, field_errors(exc), form)
    msg = i18n.t("periods.added", lang, name=periods.name(period, lang))
    return Redirect(path="/periods?" + urlencode({"msg": msg}))


async def _confirm(request: Request, code: str, action: str, status_code: int = 200,
                   errors: dict[str, str] | None = None, reason: str = "") -> Template:
    lang = web.language(request)
    change = await periods.plan(code, action, lang)
    return web.page(request, "period_confirm.html", status_code=status_code, change=change,
                    name=periods.name(change.period, lang), errors=errors or {}, reason=reason)


@get("/periods/{code:str}/{action:str}", opt=ADMIN, include_in_schema=False)
async def period_confirm(request: Request, code: Code, action: Action) -> Template:
    """What closing (or reopening) will do, with the button that does it."""
    return await _confirm(request, code, _action(action, request))


@post("/periods/{code:str}/{action:str}", opt=ADMIN, include_in_schema=False)
async def period_change(request: Request, code: Code, action: Action,
                        data: URLEncodedBody[dict[str, str]]) -> Template | Redirect:
    lang = web.language(request)
    action = _action(action, request)
    reason = (data.get("reason") or "").strip()
    if data.get("confirm") != "1":
        return await _confirm(request, code, action, 422,
                              {"confirm": i18n.t("periods.err_confirm", lang)}, reason)
    if len(reason) > 500:
        return await _confirm(request, code, action, 422,
                              {"reason": i18n.t("periods.err_reason", lang)}, reason[:500])
    period = await periods.set_status(code, action, reason, lang)
    msg = i18n.t(f"periods.done_{action}", lang, name=periods.name(period, lang))
    return Redirect(path="/periods?" + urlencode({"msg": msg}))


def _action(action: str, request: Request) -> str:
    from core.errors import NotFound

    if action not in ACTIONS:
        raise NotFound("unknown_action", i18n.t("periods.unknown_action",
                                                web.language(request)))
    return action


HANDLERS = [periods_page, periods_add, period_confirm, period_change]
