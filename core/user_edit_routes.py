"""One user's page for admins: name, mail address, role and unit; what the plugins say the
user holds (hook `kaohe_user_panels`); the confirmation before disabling the account
(core.user_admin does the work)."""

from __future__ import annotations

from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.params import URLEncodedBody
from litestar.response import Redirect, Template

from core import accounts, i18n, user_admin, web
from core.accounts import User
from core.errors import KaoheError, NotFound, field_errors
from core.params import Id
from core.plugins import get_host
from core.roles import ADMIN_ONLY
from core.security import current_user

ADMIN = {"roles": ADMIN_ONLY}


async def _user(user_id: int, lang: str) -> User:
    user = await User.get_or_none(id=user_id).select_related("unit")
    if user is None:
        raise NotFound("user_not_found", i18n.t("users.not_found", lang, id=user_id))
    return user


async def panels(user: User) -> list:
    found = [panel for _, panel in await get_host().acollect("kaohe_user_panels", user=user)]
    return sorted(found, key=lambda p: p.order)


async def _page(request: Request, user: User, template: str = "user_edit.html",
                status_code: int = 200, errors: dict[str, str] | None = None,
                form: dict[str, str] | None = None) -> Template:
    if form is None:
        form = {"display_name": user.display_name, "email": user.email, "role": user.role,
                "unit": user.unit.code if user.unit else ""}
    return web.page(request, template, status_code=status_code, target=user, form=form,
                    errors=errors or {}, roles=accounts.ROLES,
                    panels=await panels(user), me=current_user(request))


@get("/users/{user_id:int}/edit", opt=ADMIN, include_in_schema=False)
async def user_edit_page(request: Request, user_id: Id) -> Template:
    return await _page(request, await _user(user_id, web.language(request)))


@post("/users/{user_id:int}/edit", opt=ADMIN, include_in_schema=False)
async def user_edit_save(request: Request, user_id: Id,
                         data: URLEncodedBody[dict[str, str]]) -> Template | Redirect:
    lang = web.language(request)
    user = await _user(user_id, lang)
    form = {k: (data.get(k) or "").strip() for k in ("display_name", "email", "role", "unit")}
    try:
        clean = await user_admin.check(user, form, current_user(request), lang)
    except KaoheError as exc:
        return await _page(request, user, status_code=exc.status, errors=field_errors(exc),
                           form=form)
    notices = await user_admin.update(user, clean)
    msg = i18n.t("user_edit.saved", lang, username=user.username)
    if notices:
        msg = f"{msg}；{user_admin.notice_text(notices, lang)}"
    return Redirect(path=f"/users/{user.id}/edit?" + urlencode({"msg": msg}))


@get("/users/{user_id:int}/disable", opt=ADMIN, include_in_schema=False)
async def user_disable_confirm(request: Request, user_id: Id) -> Template:
    """What disabling ends, with the button that does it (POST /users/ID/disable)."""
    lang = web.language(request)
    user = await _user(user_id, lang)
    if user.id == current_user(request).id:
        from core.errors import Conflict

        raise Conflict("self_disable", i18n.t("users.self_disable", lang))
    return await _page(request, user, template="user_disable.html")


HANDLERS = [user_edit_page, user_edit_save, user_disable_confirm]
