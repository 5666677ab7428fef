"""Login limits: counted atomically before the password is checked, per (account, address)
and per account; an address is slowed down, never locked. On the database and on Redis."""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest

from core.audit import AuditEntry
from tests.conftest import BACKEND, make_user

# The SQLite and PostgreSQL runs go at once: each flushes a Redis database of its own.
REDIS_URL = f"redis://127.0.0.1:6379/{15 if BACKEND == 'sqlite' else 14}"


@pytest.fixture(params=["database", "redis"])
def settings_extra(request, monkeypatch):
    """Each test runs with the counters in the database and again in Redis."""
    # Small limits keep the (Argon2-paced) loops short.
    monkeypatch.setenv("KAOHE_SECURITY__LOGIN_ACCOUNT_MAX_FAILURES", "6")
    monkeypatch.setenv("KAOHE_SECURITY__LOGIN_ADDRESS_PER_MINUTE", "8")
    if request.param == "redis":
        import redis

        try:
            redis.Redis.from_url(REDIS_URL).flushdb()
        except redis.ConnectionError as exc:
            if os.environ.get("CI", "").lower() == "true":
                raise
            pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
        monkeypatch.setenv("KAOHE_SECURITY__REDIS_URL", REDIS_URL)
    return ""


def from_address(client, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=client.app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def _login(c, username: str, password: str) -> httpx.Response:
    return await c.post("/api/login", json={"username": username, "password": password})


async def test_the_backend_is_the_one_configured(client, settings_extra):
    from core.login_limits import DatabaseCounters, RedisCounters

    counters = client.app.state.limiter.counters
    wanted = RedisCounters if os.environ.get("KAOHE_SECURITY__REDIS_URL") else DatabaseCounters
    assert isinstance(counters, wanted)


async def test_forty_parallel_wrong_passwords_check_at_most_the_limit(client):
    await make_user("p1", "admin")
    limit = client.app.state.settings.security.login_max_failures  # 3 in the test settings
    answers = await asyncio.gather(*(_login(client, "p1", f"wrong-{i}") for i in range(40)))
    codes = sorted(r.status_code for r in answers)
    assert codes.count(401) == limit and codes.count(429) == 40 - limit, codes
    # a checked password is audited as a failed login: exactly the limit were checked
    assert await AuditEntry.filter(action="login.failed", object_id="p1").count() == limit
    # the address's minute slots (8 here) are taken first: past them 429 "slow down", and of
    # the attempts within them only the account's limit reached the password check
    per_minute = client.app.state.settings.security.login_address_per_minute
    codes = [r.json()["error"]["code"] for r in answers if r.status_code == 429]
    assert codes.count("login_locked") == per_minute - limit, codes
    assert codes.count("login_throttled") == 40 - per_minute, codes
    locked = next(r for r in answers if r.status_code == 429
                  and r.json()["error"]["code"] == "login_locked")
    assert 0 < int(locked.headers["retry-after"]) <= 900
    assert "登录失败次数过多" in locked.json()["error"]["message"]


async def test_the_right_password_among_parallel_guesses_is_not_let_through_past_the_limit(client):
    await make_user("p2", "admin")
    limit = client.app.state.settings.security.login_max_failures
    guesses = [("p2", f"wrong-{i}") for i in range(29)] + [("p2", "password1")]
    answers = await asyncio.gather(*(_login(client, u, p) for u, p in guesses))
    checked = [r for r in answers if r.status_code in (200, 201, 401)]
    assert len(checked) <= limit, [r.status_code for r in answers]
    assert sum(r.status_code == 429 for r in answers) >= 30 - limit


async def test_made_up_names_from_one_address_do_not_lock_out_the_office(client):
    """Six failures with invented names behind one NAT; the real users there still log in."""
    await make_user("real1", "admin")
    await make_user("real2", "leader")
    async with from_address(client, "203.0.113.7") as office:
        for i in range(6):
            r = await _login(office, f"nobody{i}", "whatever-1")
            assert r.status_code == 401, r.text
        assert (await _login(office, "real1", "password1")).status_code == 201
        r = await office.post("/login", data={"username": "real2", "password": "password1"})
        assert r.status_code == 302


async def test_an_account_is_limited_per_address_and_in_total(client):
    await make_user("acct", "admin")
    security = client.app.state.settings.security
    async with from_address(client, "198.51.100.1") as a, from_address(client, "198.51.100.2") as b:
        for _ in range(security.login_max_failures):
            assert (await _login(a, "acct", "wrong-pw")).status_code == 401
        r = await _login(a, "acct", "password1")
        assert r.status_code == 429 and r.json()["error"]["code"] == "login_locked"
        # from another address the same account can still be used …
        assert (await _login(b, "acct", "password1")).status_code == 201
        # … and a success there does not unlock the first address's guesses by itself only:
        # the account total counts failures from every address
    total = security.login_account_max_failures
    for i in range(total):
        async with from_address(client, f"192.0.2.{i + 1}") as c:
            assert (await _login(c, "acct", "wrong-pw")).status_code == 401
    async with from_address(client, "192.0.2.200") as c:
        r = await _login(c, "acct", "password1")
    assert r.status_code == 429 and r.json()["error"]["code"] == "login_locked"


async def test_a_busy_address_is_slowed_down_with_retry_after_not_locked(client):
    await make_user("busy", "admin")
    per_minute = client.app.state.settings.security.login_address_per_minute
    async with from_address(client, "203.0.113.50") as office:
        for i in range(per_minute):
            assert (await _login(office, f"guess{i}", "whatever-1")).status_code == 401
        r = await _login(office, "busy", "password1")
        assert r.status_code == 429 and r.json()["error"]["code"] == "login_throttled"
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert "秒后再试" in r.json()["error"]["message"]
        page = await office.post("/login", data={"username": "busy", "password": "password1"})
        assert page.status_code == 429 and "retry-after" in page.headers
    # the account itself is not locked: from elsewhere it logs in at once
    async with from_address(client, "198.51.100.9") as home:
        assert (await _login(home, "busy", "password1")).status_code == 201


async def test_successful_logins_give_back_the_address_slot(client):
    """A whole office logging in at nine from one address is not throttled."""
    await make_user("staff", "leader")
    per_minute = client.app.state.settings.security.login_address_per_minute
    async with from_address(client, "203.0.113.80") as office:
        for _ in range(per_minute + 5):
            assert (await _login(office, "staff", "password1")).status_code == 201


async def test_hostile_login_input_is_refused_cleanly(client):
    r = await _login(client, "x" * 100_000, "y" * 100_000)
    # refused at the boundary by the body's bounds, naming the field
    assert r.status_code == 400 and r.json()["error"]["field"] == "username"
    r = await client.post("/login", data={"username": "名\x00字", "password": "p"})
    assert r.status_code == 401
