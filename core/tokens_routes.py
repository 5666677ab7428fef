"""API tokens page: everyone lists and revokes their own tokens, admins anyone's. Audited."""

from __future__ import annotations

from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from core import accounts, clock, i18n, web
from core.accounts import ApiToken
from core.errors import NotFound
from core.paging import DEFAULT_SIZE, paginate
from core.params import Id, PageNo, PageSize
from core.security import current_user

ANY_ROLE = accounts.ROLES


def _state(row: ApiToken, days: int) -> str:
    if row.revoked:
        return "revoked"
    return "expired" if row.expiry(days) <= clock.now() else "active"


@get("/tokens", opt={"roles": ANY_ROLE}, include_in_schema=False)
async def tokens_page(request: Request, user: FromQuery[str] = "", page: PageNo = 1,
                      size: PageSize = DEFAULT_SIZE) -> Template:
    me = current_user(request)
    days = request.app.state.settings.security.token_days
    qs = ApiToken.all().select_related("user")
    if not me.is_admin:
        qs = qs.filter(user_id=me.id)
    elif user.strip():
        qs = qs.filter(user__username=user.strip()[:64])
    pager = await paginate(qs.order_by("-id"), page, size, request)
    tz = clock.tz()
    shown = [{"row": r, "state": _state(r, days),
              "created": r.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
              "expires": r.expiry(days).astimezone(tz).strftime("%Y-%m-%d %H:%M")}
             for r in pager.items]
    return web.page(request, "tokens.html", rows=shown, pager=pager, days=days, me=me,
                    user_filter=user.strip()[:64])


@post("/tokens/{token_id:int}/revoke", opt={"roles": ANY_ROLE, "leader_write": True},
      include_in_schema=False)
async def tokens_revoke(request: Request, token_id: Id) -> Redirect:
    me, lang = current_user(request), web.language(request)
    row = await ApiToken.get_or_none(id=token_id).select_related("user")
    # Another user's token is answered like a missing one: its existence is not told.
    if row is None or (not me.is_admin and row.user_id != me.id):
        raise NotFound("token_not_found", i18n.t("tokens.not_found", lang, id=token_id))
    if not row.revoked:
        await accounts.revoke_token(row)
    msg = i18n.t("tokens.revoked_msg", lang, name=row.name or str(row.id))
    return Redirect(path="/tokens?" + urlencode({"msg": msg}))


HANDLERS = [tokens_page, tokens_revoke]
