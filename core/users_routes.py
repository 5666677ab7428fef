"""User accounts for admins: list, create, disable or enable, reset a password, change a role.

All audited; disabling, a reset and a role change end the user's sessions and tokens.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode

from litestar import Request, get, post
from litestar.params import URLEncodedBody
from litestar.response import Redirect, Template
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from core import accounts, audit, i18n, passwords, unit_picker, user_admin, web
from core.accounts import User
from core.errors import Conflict, Invalid, NotFound
from core.orgs import OrgUnit
from core.paging import DEFAULT_SIZE, paginate
from core.params import Id, PageNo, PageSize, Search, choice
from core.roles import ADMIN_ONLY
from core.security import current_user

ADMIN = ADMIN_ONLY
USERNAME_RE = re.compile(r"^[\w.@-]{1,64}$")


STATES = ("active", "disabled")
RoleFilter = choice(accounts.ROLES, "角色；空 = 全部")
StateFilter = choice(STATES, "状态：active 正常、disabled 已停用；空 = 全部")
# The list's own query parameters: a write sends the admin back to the same page of the list.
LIST_KEYS = ("q", "role", "unit", "status", "page", "size")


async def _listing(request: Request, filters: dict[str, str], page: int, size: int
                   ) -> tuple[object, str, str]:
    """One page of users matching the filters, counted and sliced in the database; a unit
    that names no unit is an error naming the field (and an empty list)."""
    qs = User.all()
    if filters["q"]:
        q = filters["q"]
        qs = qs.filter(Q(username__icontains=q) | Q(display_name__icontains=q)
                       | Q(email__icontains=q))
    if filters["role"]:
        qs = qs.filter(role=filters["role"])
    if filters["status"]:
        qs = qs.filter(is_active=filters["status"] == "active")
    error = ""
    if filters["unit"]:  # picked or typed: a code, "名称（代码）" or a name one unit carries
        lang = web.language(request)
        try:
            unit = await unit_picker.resolve(filters["unit"], field="unit",
                                             label=i18n.t("users.unit_filter", lang), lang=lang)
        except Invalid as exc:
            error = exc.message
            qs = qs.filter(id=0)
        else:  # the unit and every unit below it
            qs = qs.filter(unit__path__startswith=unit.path)
    pager = await paginate(qs.select_related("unit").order_by("username"), page, size, request)
    return pager, error, "unit" if error else ""


async def _page(request: Request, status_code: int = 200, error: str = "", field: str = "",
                form: dict[str, str] | None = None, filters: dict[str, str] | None = None,
                page: int = 1, size: int = DEFAULT_SIZE) -> Template:
    filters = filters or dict.fromkeys(("q", "role", "unit", "status"), "")
    pager, list_error, list_field = await _listing(request, filters, page, size)
    if list_error and not error:
        status_code, error, field = 422, list_error, list_field
    return web.page(request, "users.html", status_code=status_code, pager=pager,
                    roles=accounts.ROLES, states=STATES, filters=filters, error=error,
                    error_field=field, form=form or {}, me=current_user(request),
                    back=urlencode({k: v for k, v in request.query_params.items()
                                    if k in LIST_KEYS and v}))


def _done(key: str, lang: str, back: str = "", **params: str) -> Redirect:
    """Back to the list the admin was looking at (its filters and page), with the message."""
    query = [(k, v) for k, v in parse_qsl(back or "")[:12] if k in LIST_KEYS and v]
    return Redirect(path="/users?" + urlencode([*query, ("msg", i18n.t(key, lang, **params))]))


@get("/users", opt={"roles": ADMIN}, include_in_schema=False)
async def users_page(request: Request, q: Search = None, role: RoleFilter = None,
                     unit: Search = None, status: StateFilter = None, page: PageNo = 1,
                     size: PageSize = DEFAULT_SIZE) -> Template:
    """Users by name, display name or mail address (`q`), role, unit (its subtree) and state,
    one page at a time."""
    filters = {"q": (q or "").strip(), "role": role or "", "unit": (unit or "").strip(),
               "status": status or ""}
    return await _page(request, filters=filters, page=page, size=size)


async def _validated(data: dict[str, str], lang: str) -> tuple[dict[str, str], OrgUnit | None]:
    """Check the create form; a failure names its field."""
    form = {k: (data.get(k) or "").strip() for k in
            ("username", "display_name", "email", "role", "unit")}
    t = lambda key, **p: i18n.t(f"users.{key}", lang, **p)  # noqa: E731
    if not USERNAME_RE.match(form["username"]):
        raise Invalid("invalid_username", t("bad_username"), field="username")
    if await User.exists(username=form["username"]):
        raise Conflict("username_taken", t("taken", username=form["username"]), field="username")
    if form["role"] not in accounts.ROLES:
        raise Invalid("invalid_role", t("bad_role", role=form["role"]), field="role")
    unit = await unit_picker.resolve(form["unit"], field="unit",
                                     label=i18n.t("users.unit", lang), lang=lang)
    if form["role"] == "unit_officer" and unit is None:
        raise Invalid("unit_required", t("unit_required"), field="unit")
    weak = passwords.problem(data.get("password") or "", lang, username=form["username"],
                             display_name=form["display_name"])
    if weak:
        raise Invalid("weak_password", weak, field="password")
    return form, unit


@post("/users", opt={"roles": ADMIN}, include_in_schema=False)
async def users_create(request: Request, data: URLEncodedBody[dict[str, str]]) -> Template | Redirect:
    lang = web.language(request)
    try:
        form, unit = await _validated(data, lang)
        async with in_transaction():
            user = await accounts.create_user(
                form["username"], data["password"], form["role"],
                display_name=form["display_name"], email=form["email"],
                unit=unit if form["role"] == "unit_officer" else None)
            await audit.record("user.create", "user", user.username, after=audit.snapshot(user))
    except (Invalid, Conflict) as exc:
        return await _page(request, exc.status, exc.text(web.language(request)), exc.field or "",
                           {k: v for k, v in data.items() if k not in ("password", "_csrf")})
    # The list opens on the new account rather than on the whole list.
    return _done("users.created", lang, urlencode({"q": user.username}), username=user.username)


async def _target(user_id: Id, lang: str) -> User:
    user = await User.get_or_none(id=user_id)
    if user is None:
        raise NotFound("user_not_found", i18n.t("users.not_found", lang, id=user_id))
    return user


async def _back(request: Request) -> str:
    """The list query the form was sent from (hidden field `back`)."""
    return str((await request.form()).get("back") or "")[:500]


async def _set_active(request: Request, user_id: Id, active: bool) -> Redirect:
    lang = web.language(request)
    back = await _back(request)
    user = await _target(user_id, lang)
    if not active and user.id == current_user(request).id:
        # Also keeps the last admin: only they could disable themselves.
        raise Conflict("self_disable", i18n.t("users.self_disable", lang))
    if not active:
        # Logins, tokens and what the user held on the plugins end together (core.user_admin).
        notices = await user_admin.disable(user, current_user(request), lang)
        if notices:  # the user's page shows what was ended and what is left to reassign
            msg = i18n.t("users.disabled", lang, username=user.username)
            return Redirect(path=f"/users/{user.id}/edit?" + urlencode(
                {"msg": f"{msg}；{user_admin.notice_text(notices, lang)}"}))
    elif user.is_active != active:
        async with in_transaction():
            await User.filter(id=user.id).update(is_active=active)
            await audit.record("user.enable", "user", user.username,
                               before={"is_active": user.is_active}, after={"is_active": active})
    return _done("users.enabled" if active else "users.disabled", lang, back,
                 username=user.username)


@post("/users/{user_id:int}/disable", opt={"roles": ADMIN}, include_in_schema=False)
async def users_disable(request: Request, user_id: Id) -> Redirect:
    form = await request.form()
    if form.get("confirm") != "1":
        # Disabling ends logins and assignments: it is done from the page that says so.
        return Redirect(path=f"/users/{user_id}/disable")
    return await _set_active(request, user_id, False)


@post("/users/{user_id:int}/enable", opt={"roles": ADMIN}, include_in_schema=False)
async def users_enable(request: Request, user_id: Id) -> Redirect:
    return await _set_active(request, user_id, True)


@post("/users/{user_id:int}/password", opt={"roles": ADMIN}, include_in_schema=False)
async def users_reset_password(request: Request, user_id: Id,
                               data: URLEncodedBody[dict[str, str]]) -> Template | Redirect:
    lang = web.language(request)
    user = await _target(user_id, lang)
    password = data.get("password") or ""
    weak = passwords.problem(password, lang, username=user.username,
                             display_name=user.display_name)
    if weak:
        return await _page(request, 422, weak, "password")
    async with in_transaction():
        user.set_password(password)
        await user.save(update_fields=["password_hash"])
        await audit.record("user.reset_password", "user", user.username)
        # A reset password must not leave old logins or tokens alive (on any instance).
        await accounts.end_logins(user, "user.reset_password")
    return _done("users.reset", lang, data.get("back") or "", username=user.username)


@post("/users/{user_id:int}/role", opt={"roles": ADMIN}, include_in_schema=False)
async def users_change_role(request: Request, user_id: Id,
                            data: URLEncodedBody[dict[str, str]]) -> Template | Redirect:
    lang = web.language(request)
    user = await _target(user_id, lang)
    if user.id == current_user(request).id:
        # Also keeps the last admin: only they could demote themselves.
        raise Conflict("self_role_change", i18n.t("users_role.self_change", lang))
    role, code = (data.get("role") or "").strip(), (data.get("unit") or "").strip()
    t = lambda key, **p: i18n.t(f"users.{key}", lang, **p)  # noqa: E731
    if role not in accounts.ROLES:
        return await _page(request, 422, t("bad_role", role=role), "role")
    try:
        unit = await unit_picker.resolve(code, field="unit", label=i18n.t("users.unit", lang),
                                         lang=lang)
    except Invalid as exc:
        return await _page(request, 422, exc.message, "unit")
    if role == "unit_officer" and unit is None:
        return await _page(request, 422, t("unit_required"), "unit")
    unit = unit if role == "unit_officer" else None
    notices = await user_admin.set_role(user, role, unit)  # ends logins and the old role
    if notices:
        msg = i18n.t("users_role.changed", lang, username=user.username)
        return Redirect(path=f"/users/{user.id}/edit?" + urlencode(
            {"msg": f"{msg}；{user_admin.notice_text(notices, lang)}"}))
    return _done("users_role.changed", lang, data.get("back") or "", username=user.username)


HANDLERS = [users_page, users_create, users_disable, users_enable, users_reset_password,
            users_change_role]
