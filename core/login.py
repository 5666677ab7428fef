"""Login, logout and API tokens."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.params import JSONBody, URLEncodedBody
from litestar.response import Redirect, Template

from core import accounts, audit, i18n
from core.errors import KaoheError
from core.params import Search
from core.security import SESSION_COOKIE, current_user
from core.web import language, page

ANY_ROLE = ("admin", "instructor", "unit_officer", "leader")


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@get("/login", opt={"public": True}, include_in_schema=False)
async def login_page(request: Request, next: Search = "/") -> Template:
    return page(request, "login.html", next=next if next.startswith("/") else "/", error="")


async def _authenticate(request: Request, username: str, password: str) -> accounts.User:
    limiter = request.app.state.limiter
    address = _address(request)
    minutes = await limiter.blocked(username, address)
    if minutes:
        raise KaoheError("login_locked", i18n.t("login.locked", language(request), minutes=minutes),
                         status=429)
    user = await accounts.User.get_or_none(username=username)
    if user is None or not user.is_active or not user.check_password(password):
        await limiter.failed(username, address)
        await audit.record("login.failed", "user", username, actor=f"anonymous@{address}")
        raise KaoheError("login_failed", i18n.t("login.failed", language(request)), status=401)
    await limiter.succeeded(username)
    return user


@post("/login", opt={"public": True}, include_in_schema=False)
async def login_submit(
    request: Request,
    data: URLEncodedBody[dict[str, str]],
) -> Template | Redirect:
    target = data.get("next", "/")
    target = target if target.startswith("/") and not target.startswith("//") else "/"
    try:
        user = await _authenticate(request, data.get("username", ""), data.get("password", ""))
    except KaoheError as exc:
        return page(request, "login.html", status_code=exc.status, next=target, error=exc.message)
    settings = request.app.state.settings
    token, _ = await accounts.start_session(user, settings.security.session_hours, _address(request))
    await audit.record("login", "user", user.username, actor=user.username)
    response = Redirect(path=target)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax",
                        secure=settings.security.secure_cookies,
                        max_age=settings.security.session_hours * 3600)
    return response


@post("/logout", opt={"roles": ANY_ROLE, "leader_write": True}, include_in_schema=False)
async def logout(request: Request) -> Redirect:
    session = request.scope.get("kaohe_session")
    if session is not None:
        await session.delete()
    response = Redirect(path="/login")
    response.delete_cookie(SESSION_COOKIE)
    return response


@post("/api/login", opt={"public": True}, tags=["accounts"])
async def api_login(request: Request, data: JSONBody[dict[str, str]]) -> dict[str, str]:
    """Exchange user name and password for a bearer token."""
    user = await _authenticate(request, data.get("username", ""), data.get("password", ""))
    token = await accounts.issue_token(user, name=data.get("name", "api"))
    await audit.record("token.issue", "user", user.username, actor=user.username)
    return {"token": token, "role": user.role}


@get("/api/me", opt={"roles": ANY_ROLE}, tags=["accounts"])
async def api_me(request: Request) -> dict[str, object]:
    """Who the caller is."""
    user = current_user(request)
    unit = await user.unit if user.unit_id else None
    session = request.scope.get("kaohe_session")
    return {"username": user.username, "role": user.role, "display_name": user.display_name,
            "unit": unit.code if unit else None,
            # Scripts using the session cookie need the CSRF token for their writes.
            "csrf": session.csrf_token if session else None}
