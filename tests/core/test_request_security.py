"""Request security: headers on every response, same-site redirects only, the OpenAPI router
public by its own opt (not by a path prefix), no user-name oracle in login timing, and
password strength rules."""

from __future__ import annotations

import pytest
from litestar import Router, get

from core import passwords
from tests.conftest import login, make_user


async def test_security_headers_on_pages_api_errors_and_static(client):
    await make_user("h1", "admin")
    await login(client, "h1")
    for path, accept in (("/", "text/html"), ("/api/me", "application/json"),
                         ("/no-such-page", "text/html"), ("/static/kaohe.css", "*/*"),
                         ("/api/no-such", "application/json")):
        r = await client.get(path, headers={"accept": accept})
        csp = r.headers.get("content-security-policy", "")
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp.split(
            "script-src")[1].split(";")[0], (path, csp)
        assert "frame-ancestors 'none'" in csp, path
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["referrer-policy"] == "same-origin", path
        assert "strict-transport-security" not in r.headers  # cookies are not secure here


async def test_hsts_when_cookies_are_secure(settings, host, monkeypatch):
    import httpx

    from core.app import create_app, platform_lifespan

    settings.core.security.secure_cookies = True
    app = create_app(settings, host, run_scheduler=False)
    async with platform_lifespan(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://testserver") as c:
            r = await c.get("/login")
    assert r.headers["strict-transport-security"].startswith("max-age=")


async def test_pages_carry_no_inline_script_or_handlers(client):
    """What the CSP would block: inline <script> bodies and on* attributes in any template."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    bad = []
    for path in [*root.glob("core/templates/**/*.html"), *root.glob("plugins/*/templates/**/*.html")]:
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=", text):
            bad.append(f"{path.relative_to(root)}: {m.group(0)}")
    assert bad == []


@pytest.mark.parametrize("referer", [
    "//evil.example/x", "http://testserver//evil.example/x", "http://testserver/\\evil.example/",
    "http://testserver/\t/evil.example/", "https://evil.example//evil.example/a",
])
async def test_language_switch_never_redirects_off_site(client, referer):
    r = await client.get("/lang/en", headers={"referer": referer})
    assert r.status_code in (302, 303)
    location = r.headers["location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\")), location
    assert "\t" not in location


async def test_language_switch_returns_to_a_same_site_page(client):
    r = await client.get("/lang/en", headers={"referer": "http://testserver/users?x=1"})
    assert r.headers["location"] == "/users"


async def test_login_next_is_same_site_only(client):
    await make_user("n1", "admin")
    for target in ("//evil.example/", "/\\evil.example", "https://evil.example/"):
        r = await client.post("/login", data={"username": "n1", "password": "password1",
                                              "next": target})
        assert r.headers["location"] == "/", target
        client.cookies.clear()
    r = await client.get("/login", params={"next": "/\\evil.example"})
    assert 'value="/\\evil.example"' not in r.text


async def test_schema_prefix_is_not_a_back_door(settings, host):
    """A route under /schema… that declares no roles is denied like any other."""
    import httpx

    from core.app import create_app, platform_lifespan

    @get("/schema-export", include_in_schema=False)
    async def leaky() -> dict:
        return {"secret": 1}

    @get("/x", include_in_schema=False)
    async def nested() -> dict:
        return {"secret": 2}

    app = create_app(settings, host, run_scheduler=False)
    app.register(leaky)
    app.register(Router("/schemas", route_handlers=[nested]))
    async with platform_lifespan(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://testserver") as c:
            for path in ("/schema-export", "/schemas/x"):
                r = await c.get(path)
                assert r.status_code == 403 and r.json()["error"]["code"] == "route_without_roles"
            # the documentation itself stays public
            r = await c.get("/schema/openapi.json")
            assert r.status_code == 200 and r.json()["info"]["title"] == "kaohe API"


async def test_unknown_names_cost_one_hash_like_wrong_passwords(client, monkeypatch):
    """The answer time does not tell whether a user name exists: an unknown or disabled name
    is checked against a dummy hash, one Argon2 verification like a wrong password. Counted,
    not timed: the tests' hash is made cheap, so its time would be noise beside the request's."""
    from core import accounts

    await make_user("exists", "admin")
    gone = await make_user("gone", "admin")
    gone.is_active = False
    await gone.save()
    real = accounts._hasher
    checked: list[str] = []

    class Counting:
        def __getattr__(self, name):
            return getattr(real, name)

        def verify(self, stored, password):
            checked.append(stored)
            return real.verify(stored, password)

    monkeypatch.setattr(accounts, "_hasher", Counting())
    for username in ("exists", "ghost", "gone"):
        before = len(checked)
        r = await client.post("/api/login", json={"username": username, "password": "wrong-pw"})
        assert r.status_code == 401
        assert len(checked) - before == 1, (username, checked)
    assert checked[0] == (await accounts.User.get(username="exists")).password_hash
    assert checked[1] == checked[2] != checked[0]  # the same dummy hash for both


@pytest.mark.parametrize("password, why", [
    ("12345678", "常见"), ("password", "常见"), ("password1", "常见"), ("qwertyui", "常见"),
    ("aaaaaaaa", "重复"), ("abcdefgh", "连续"), ("woaini1314", "常见"), ("short", "至少"),
    ("zhangsan2014", "用户名"), ("x" * 200, "不能超过"),
])
def test_weak_passwords_are_refused_with_the_field_named(password, why):
    message = passwords.problem(password, "zh", username="zhangsan", display_name="张三")
    assert message and message.startswith("密码：") and why in message, message


@pytest.mark.parametrize("password", ["brand-new-pw", "Guiyang-2014-kh", "pw-one-111",
                                      "lantern-s3cret"])
def test_good_passwords_pass(password):
    assert passwords.problem(password, "zh", username="zhangsan") is None


async def test_weak_password_refused_on_create_and_reset(client):
    from core.accounts import User

    await make_user("adm", "admin")
    csrf = await login(client, "adm")
    r = await client.post("/users", data={"_csrf": csrf, "username": "wu", "role": "leader",
                                          "password": "12345678"})
    assert r.status_code == 422 and 'data-field="password"' in r.text and "密码：" in r.text
    assert not await User.exists(username="wu")
    target = await make_user("wu2", "leader")
    r = await client.post(f"/users/{target.id}/password", data={"_csrf": csrf,
                                                               "password": "password"})
    assert r.status_code == 422 and "密码：过于常见" in r.text
    assert (await User.get(id=target.id)).check_password("password1")
