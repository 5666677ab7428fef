"""The unit tree page for admins: browse from the city down, add a unit under the one shown
(core.units does the work)."""

from __future__ import annotations

from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.params import URLEncodedBody
from litestar.response import Redirect, Template

from core import i18n, units, web
from core.errors import KaoheError, field_errors
from core.params import UnitCode, UnitCodeInPath
from core.roles import ADMIN_ONLY

ADMIN = {"roles": ADMIN_ONLY}
FIELDS = ("level", "code", "name", "households")


async def _page(request: Request, code: str | None, status_code: int = 200,
                errors: dict[str, str] | None = None,
                form: dict[str, str] | None = None) -> Template:
    lang = web.language(request)
    if not code:
        top = await units.roots()
        if len(top) != 1:
            return web.page(request, "units.html", status_code=status_code, node=None,
                            roots=top, errors={}, form={})
        code = top[0].code
    found = await units.node(code, lang)
    if form is None:
        levels = found.child_levels
        form = {"level": levels[0] if levels else "",
                "code": await units.suggested_code(found.unit) if levels else ""}
    return web.page(request, "units.html", status_code=status_code, node=found, roots=[],
                    errors=errors or {}, form=form)


@get("/units", opt=ADMIN, include_in_schema=False)
async def units_page(request: Request, unit: UnitCode = None) -> Template:
    return await _page(request, unit)


@post("/units/{code:str}/children", opt=ADMIN, include_in_schema=False)
async def units_add(request: Request, code: UnitCodeInPath,
                    data: URLEncodedBody[dict[str, str]]) -> Template | Redirect:
    lang = web.language(request)
    form = {k: (data.get(k) or "").strip() for k in FIELDS}
    try:
        unit = await units.add(code, form, lang)
    except KaoheError as exc:
        if exc.status == 404:
            raise
        return await _page(request, code, exc.status, field_errors(exc), form)
    msg = i18n.t("units.added", lang, name=unit.name, level=i18n.t(f"units.level_{unit.level}",
                                                                 lang))
    return Redirect(path="/units?" + urlencode({"unit": code, "msg": msg}))


HANDLERS = [units_page, units_add]
