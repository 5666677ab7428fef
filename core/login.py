"""Login, logout and API tokens."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromQuery, JSONBody, URLEncodedBody
from litestar.response import Redirect, Template

from core import accounts, audit, i18n
from core.errors import KaoheError
from core.roles import ALL
from core.security import SESSION_COOKIE, current_user
from core.web import language, local_path, page

ANY_ROLE = ALL


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@get("/login", opt={"public": True}, include_in_schema=False)
async def login_page(request: Request, next: FromQuery[str] = "/") -> Template:
    return page(request, "login.html", next=local_path(next), error="")


class LoginRefused(KaoheError):
    """Too many attempts: answered 429 with Retry-After."""

    def __init__(self, code: str, message: str, retry_after: int):
        super().__init__(code, message, status=429)
        self.retry_after = retry_after


async def _authenticate(request: Request, username: str, password: str) -> accounts.User:
    limiter = request.app.state.limiter
    address = _address(request)
    # No account has a longer name or a NUL in it (PostgreSQL refuses NUL in text): such a
    # name is an unknown user, checked against the dummy hash like any other.
    known_shape = len(username) <= 64 and "\x00" not in username
    username = username[:64]
    # The attempt is counted before the password is checked, so parallel guesses cannot
    # all be checked.
    refusal = await limiter.attempt(username, address)
    lang = language(request)
    if refusal is not None:
        if refusal.reason == "address":
            raise LoginRefused("login_throttled", i18n.t("login_limit.throttled", lang,
                               seconds=refusal.retry_after), refusal.retry_after)
        raise LoginRefused("login_locked", i18n.t("login.locked", lang,
                           minutes=refusal.retry_after // 60 + 1), refusal.retry_after)
    user = await accounts.User.get_or_none(username=username) if known_shape else None
    # Argon2 in a worker thread: parallel logins must not stall every other request.
    if not await anyio.to_thread.run_sync(accounts.verify_login, user, password):
        await audit.record("login.failed", "user", username, actor=f"anonymous@{address}")
        raise KaoheError("login_failed", i18n.t("login.failed", lang), status=401)
    await limiter.succeeded(username, address)
    return user


def _retry_after(exc: KaoheError) -> dict[str, str]:
    return {"Retry-After": str(exc.retry_after)} if isinstance(exc, LoginRefused) else {}


@post("/login", opt={"public": True}, include_in_schema=False)
async def login_submit(
    request: Request,
    data: URLEncodedBody[dict[str, str]],
) -> Template | Redirect:
    target = local_path(data.get("next", "/"))
    try:
        user = await _authenticate(request, data.get("username", ""), data.get("password", ""))
    except KaoheError as exc:
        response = page(request, "login.html", status_code=exc.status, next=target,
                        error=exc.message)
        response.headers.update(_retry_after(exc))
        return response
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


class LoginIn(msgspec.Struct, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(max_length=64)]
    password: Annotated[str, msgspec.Meta(max_length=1024)]
    name: Annotated[str, msgspec.Meta(max_length=100)] = "api"  # the token's label


class TokenOut(msgspec.Struct):
    token: str  # send as "Authorization: Bearer <token>"
    role: str
    expires_at: str


class MeOut(msgspec.Struct):
    username: str
    role: str
    display_name: str
    unit: str | None  # the unit code of a unit officer
    csrf: str | None  # for writes made with the session cookie


@post("/api/login", opt={"public": True}, tags=["accounts"])
async def api_login(request: Request, data: JSONBody[LoginIn]) -> Response[TokenOut]:
    """Exchange user name and password for a bearer token, valid for [security] token_days."""
    try:
        user = await _authenticate(request, data.username, data.password)
    except LoginRefused as exc:
        return Response({"error": {"code": exc.code, "message": exc.message}},
                        status_code=429, headers=_retry_after(exc))
    days = request.app.state.settings.security.token_days
    token, row = await accounts.issue_token(user, name=data.name, days=days)
    await audit.record("token.issue", "api_token", str(row.id), actor=user.username,
                       after={"user": user.username, "name": row.name,
                              "expires_at": row.expires_at.isoformat()})
    return Response(TokenOut(token=token, role=user.role, expires_at=row.expires_at.isoformat()),
                    status_code=201)


@get("/api/me", opt={"roles": ANY_ROLE}, tags=["accounts"])
async def api_me(request: Request) -> MeOut:
    """Who the caller is."""
    user = current_user(request)
    unit = await user.unit if user.unit_id else None
    session = request.scope.get("kaohe_session")
    return MeOut(username=user.username, role=user.role, display_name=user.display_name,
                 unit=unit.code if unit else None,
                 # Scripts using the session cookie need the CSRF token for their writes.
                 csrf=session.csrf_token if session else None)
