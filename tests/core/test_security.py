"""Every route with every role: the allow/deny table, CSRF, sessions, login limits."""

import re

import pytest

from core.security import ALL_ROLES, roles_of
from tests.conftest import login, make_user, seed_units

ROLE_USERS = {"admin": None, "instructor": None, "unit_officer": "520102", "leader": None}


def _concrete(path: str) -> str:
    path = re.sub(r"\{[^}:]+:int\}", "1", path)
    path = re.sub(r"\{[^}:]+:path\}", "x", path)
    return re.sub(r"\{[^}]+\}", "x", path)


def _handlers(app):
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in sorted(getattr(handler, "http_methods", []) or []):
                if method in ("HEAD", "OPTIONS"):
                    continue
                yield route.path, method, handler


async def test_every_route_declares_roles(client):
    missing = [f"{m} {p}" for p, m, h in _handlers(client.app)
               if roles_of(h) is None and not p.startswith("/schema")]
    assert missing == [], f"routes without roles: {missing}"


async def test_role_route_table(client):
    await seed_units()
    for role, unit in ROLE_USERS.items():
        await make_user(f"u_{role}", role, unit_code=unit)
    table = list(_handlers(client.app))
    assert table
    for role in ALL_ROLES:
        client.cookies.clear()
        csrf = await login(client, f"u_{role}")
        for path, method, handler in table:
            if path.startswith("/schema") or (handler.opt or {}).get("public") or path == "/logout":
                continue  # public routes allow everyone; logout would end this login
            roles = roles_of(handler)
            allowed = role in roles and not (role == "leader" and method != "GET"
                                             and not (handler.opt or {}).get("leader_write"))
            r = await client.request(method, _concrete(path), headers={"X-CSRF-Token": csrf,
                                                                        "accept": "application/json"})
            denied = r.status_code == 403 and r.json()["error"]["code"] in ("forbidden", "read_only")
            assert denied != allowed, f"{role} {method} {path}: {r.status_code} {r.text[:200]}"


async def test_anonymous_is_sent_to_login_and_api_gets_401(client):
    r = await client.get("/", headers={"accept": "text/html"})
    assert r.status_code == 302 and r.headers["location"].startswith("/login")
    r = await client.get("/api/me")
    assert r.status_code == 401 and r.json()["error"]["code"] == "login_required"


async def test_csrf_required_for_cookie_writes_not_for_bearer(client):
    await make_user("a1", "admin")
    await login(client, "a1")
    r = await client.post("/api/assessments/apply", json={"text": ""})
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    r = await client.post("/inbox/1/read", data={"_csrf": "wrong"})
    assert r.status_code == 403
    client.cookies.clear()
    token = (await client.post("/api/login", json={"username": "a1", "password": "password1"})).json()["token"]
    r = await client.post("/api/assessments/apply", json={"text": "x = ["},
                          headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "definition_invalid"


async def test_session_cookie_flags_and_expiry(client):
    import datetime as dt

    from core.accounts import Session

    await make_user("a2", "admin")
    r = await client.post("/login", data={"username": "a2", "password": "password1"})
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    await Session.all().update(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    r = await client.get("/api/me")
    assert r.status_code == 401 and r.json()["error"]["code"] == "session_expired"


async def test_failed_logins_are_limited_per_account(client):
    await make_user("a3", "admin")
    for _ in range(3):
        r = await client.post("/login", data={"username": "a3", "password": "nope"})
        assert r.status_code == 401
    r = await client.post("/login", data={"username": "a3", "password": "password1"})
    assert r.status_code == 429
    assert "登录失败次数过多" in r.text


@pytest.mark.parametrize("role", ["leader"])
async def test_leader_is_read_only(client, role):
    await make_user("l1", role)
    csrf = await login(client, "l1")
    r = await client.post("/api/assessments/apply", json={"text": ""}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403
