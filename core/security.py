"""Authentication (session cookie or bearer token), default-deny role guard, CSRF, scoping.

Every route declares `opt={"roles": (...)}` (or `"public": True`); a route without it is
denied. Leaders are read-only. Unsafe requests made with a session cookie must carry the
session's CSRF token (form field `_csrf` or header `X-CSRF-Token`); bearer-token calls carry
no ambient authority and need none.
"""

from __future__ import annotations

import hmac
from typing import Any

from litestar.connection import ASGIConnection, Request
from litestar.handlers import BaseRouteHandler

from core import accounts, audit
from core.errors import Forbidden, KaoheError

SESSION_COOKIE = "kaohe_session"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
ALL_ROLES = accounts.ROLES


class NotLoggedIn(KaoheError):
    status = 401


def auth_middleware_factory(app: Any) -> Any:
    async def middleware(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await app(scope, receive, send)
            return
        user = session = None
        kind = None
        headers = dict(scope.get("headers") or [])
        authz = headers.get(b"authorization", b"").decode()
        if authz.lower().startswith("bearer "):
            user = await accounts.token_user(authz[7:].strip())
            kind = "token" if user else "bad-token"
        else:
            token = _cookie(headers.get(b"cookie", b"").decode(), SESSION_COOKIE)
            if token:
                found = await accounts.session_user(token)
                if found:
                    user, session = found
                    kind = "session"
                else:
                    kind = "expired"
        scope["kaohe_user"] = user
        scope["kaohe_session"] = session
        scope["kaohe_auth"] = kind
        with audit.acting_as(user.username if user else "anonymous"):
            await app(scope, receive, send)

    return middleware


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def current_user(connection: ASGIConnection) -> accounts.User | None:
    return connection.scope.get("kaohe_user")


def roles_of(handler: BaseRouteHandler) -> tuple[str, ...] | None:
    opt = handler.opt or {}
    if opt.get("public"):
        return ALL_ROLES + ("anonymous",)
    return tuple(opt["roles"]) if "roles" in opt else None


async def role_guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """App-wide guard: default deny, role check, leader read-only, CSRF."""
    opt = handler.opt or {}
    if opt.get("public"):
        return  # includes the OpenAPI router's own handlers (core.app marks that router public)
    roles = roles_of(handler)
    if roles is None:
        raise Forbidden("route_without_roles", "this route declares no roles and is denied")
    user = current_user(connection)
    if user is None:
        code = "session_expired" if connection.scope.get("kaohe_auth") == "expired" else "login_required"
        raise NotLoggedIn(code, "login required")
    if user.role not in roles:
        raise Forbidden("forbidden", f"role '{user.role}' may not use this route "
                                     f"(allowed: {', '.join(roles)})",
                        params={"role": user.role})
    method = connection.scope.get("method", "GET")
    if method in UNSAFE:
        if user.role == "leader" and not opt.get("leader_write"):
            raise Forbidden("read_only", "leaders have read-only access")
        if connection.scope.get("kaohe_auth") == "session":
            await _check_csrf(connection)


async def _check_csrf(connection: ASGIConnection) -> None:
    session = connection.scope["kaohe_session"]
    sent = connection.headers.get("x-csrf-token")
    if not sent:
        ctype = connection.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await Request(connection.scope, connection.receive).form()
            sent = form.get("_csrf")
    if not sent or not hmac.compare_digest(str(sent), session.csrf_token):
        raise Forbidden("csrf_failed", "missing or wrong CSRF token")
