"""Shared fixtures: a fresh, migrated database per test on SQLite or PostgreSQL.

KAOHE_TEST_DB selects the database: `sqlite` (default) or `postgres`. PostgreSQL tests
use KAOHE_TEST_PG (default postgres://postgres@127.0.0.1:5432/test) and create one
database per test from a migrated template. Without a reachable server they skip with
the reason, except under CI, where they fail.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from core import accounts as _accounts
from core import db as core_db
from core.boot import boot

# Argon2 at its default cost is ~50 ms a hash; the suite makes over a hundred users. Tests
# hash with cheap parameters (the hash records them, so any process verifies it);
# tests/core/test_hashing.py checks that the platform itself keeps the default cost.
_accounts._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

BACKEND = os.environ.get("KAOHE_TEST_DB", "sqlite")
PG_URL = os.environ.get("KAOHE_TEST_PG", "postgres://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def pg_admin_url(dbname: str = "test") -> str:
    base = PG_URL.rsplit("/", 1)[0]
    return f"{base}/{dbname}"


async def _pg_exec(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(pg_admin_url().replace("postgres://", "postgresql://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def write_settings(path: Path, db_url: str, extra: str = "") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    text = f"""
[app]
secret_key = "test"
[database]
url = "{db_url}"
[scheduler]
enabled = false
[mail]
host = "127.0.0.1"
port = 1
retry_base_seconds = 1
[security]
login_max_failures = 3
[storage]
evidence_dir = "evidence"
reports_dir = "reports"
{extra}
"""
    target = path / "settings.toml"
    target.write_text(text, encoding="utf-8")
    return target


def _build_template(workdir: Path) -> str:
    """Migrate one database per test session; tests copy it."""
    if BACKEND == "postgres":
        name = f"kaohe_tpl_{os.getpid()}"
        asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{name}"'))
        asyncio.run(_pg_exec(f'CREATE DATABASE "{name}"'))
        url = pg_admin_url(name)
    else:
        url = f"sqlite://{workdir / 'template.sqlite3'}"
    settings, host = boot(str(write_settings(workdir / "tpl", url)))

    async def run():
        config = await core_db.init_db(settings, host)
        try:
            await core_db.migrate(config)
        finally:
            await core_db.close_db()

    asyncio.run(run())
    return url


@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    if BACKEND == "postgres":
        try:
            asyncio.run(_pg_exec("SELECT 1"))
        except Exception as exc:  # no server here
            if IN_CI:
                raise
            pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc}")
    url = _build_template(tmp_path_factory.mktemp("tpl"))
    yield url
    if BACKEND == "postgres":
        asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}"'))


@pytest.fixture
def db_url(template_db, tmp_path):
    """A fresh database for this test, already migrated."""
    if BACKEND == "postgres":
        name = f"kaohe_t_{uuid.uuid4().hex[:12]}"
        asyncio.run(_pg_exec(f'CREATE DATABASE "{name}" TEMPLATE "{template_db.rsplit("/", 1)[1]}"'))
        yield pg_admin_url(name)
        asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    else:
        target = tmp_path / "kaohe.sqlite3"
        shutil.copy(template_db[len("sqlite://"):], target)
        yield f"sqlite://{target}"


@pytest.fixture
def settings_extra() -> str:
    """Override in a test module to add settings sections."""
    return ""


@pytest.fixture
def booted(db_url, tmp_path, settings_extra):
    return boot(str(write_settings(tmp_path, db_url, settings_extra)))


@pytest.fixture
def settings(booted):
    return booted[0]


@pytest.fixture
def host(booted):
    return booted[1]


@pytest.fixture
async def db(settings, host):
    """An open database connection for service-level tests."""
    await core_db.init_db(settings, host)
    try:
        yield
    finally:
        await core_db.close_db()


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory):
    """`kaohe demo --no-serve` as a newcomer runs it, in an empty folder, once per session:
    (the folder, what the command printed). A test that changes the demo changes a copy."""
    import subprocess
    import sys

    where = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAOHE_")}
    done = subprocess.run([sys.executable, "-m", "core", "demo", "--no-serve"], cwd=where,
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return where, done


_APPS: dict[tuple, tuple[object, set[str]]] = {}


def _app_for(settings, host):
    """The app of this test's settings and plugins. Building one registers ~480 handlers (about
    a second); an app already built for the same plugins' handlers and the same app-level
    settings is taken again, with this test's settings, host and rate limiter in its state and
    whatever an earlier test put there removed."""
    from core.app import create_app
    from core.login_limits import limiter_for

    shape = tuple((hook, name, tuple(map(id, found or [])))
                  for hook in ("kaohe_pages", "kaohe_api_routes")
                  for name, found in sorted(host.per_plugin(hook).items()))
    shape += tuple(str(d) for dirs in host.per_plugin("kaohe_template_dirs").values()
                   for d in dirs or [])
    key = (shape, settings.security.secure_cookies, settings.storage.max_upload_mb,
           settings.app.debug)
    if key not in _APPS:
        app = create_app(settings, host, run_scheduler=False)
        _APPS[key] = (app, set(app.state.keys()))
        return app
    app, keys = _APPS[key]
    for name in set(app.state.keys()) - keys:
        del app.state[name]
    app.state.settings, app.state.host = settings, host
    app.state.run_scheduler, app.state.limiter = False, limiter_for(settings)
    return app


@pytest.fixture
async def client(settings, host):
    """A test client of the whole app; the app's lifespan opens the database."""
    import httpx

    from core.app import platform_lifespan

    # The app runs in the test's own event loop (Litestar's AsyncTestClient would run it in
    # a portal thread, and Tortoise connections must stay on one loop).
    app = _app_for(settings, host)
    async with platform_lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            c.app = app
            yield c


async def make_user(username: str, role: str, password: str = "password1", unit_code: str | None = None,
                    email: str = ""):
    from core import accounts
    from core.orgs import OrgUnit

    unit = await OrgUnit.get(code=unit_code) if unit_code else None
    return await accounts.create_user(username, password, role, unit=unit, email=email)


async def login(client, username: str, password: str = "password1") -> str:
    """Log in through the form; returns the session's CSRF token."""
    r = await client.post("/login", data={"username": username, "password": password})
    assert r.status_code in (302, 303), r.text
    me = await client.get("/api/me")
    assert me.status_code == 200, me.text
    return me.json()["csrf"]


async def seed_units():
    """A small tree: city → 2 districts → 1 community each."""
    from core.orgs import ensure_period, ensure_unit

    city, _ = await ensure_unit("520100", "贵阳市", "city")
    nm, _ = await ensure_unit("520102", "南明区", "district", city)
    yy, _ = await ensure_unit("520103", "云岩区", "district", city)
    await ensure_unit("520102001", "花果园社区", "community", nm)
    await ensure_unit("520103001", "黔灵社区", "community", yy)
    await ensure_period("2014")
    await ensure_period("2013", status="closed")


def with_db(settings, body):
    """Run `body()` with the platform's database open, outside the async test fixtures
    (CLI tests and set-up before a server process starts)."""
    from core import db as core_db
    from core.plugins import get_host

    async def run():
        await core_db.init_db(settings, get_host())
        try:
            return await body()
        finally:
            await core_db.close_db()

    return asyncio.run(run())


def _pg_up() -> bool:
    """Whether the PostgreSQL run will have a server (CI always has one)."""
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(PG_URL)
    with socket.socket() as s:
        s.settimeout(1)
        return IN_CI or s.connect_ex((where.hostname or "127.0.0.1", where.port or 5432)) == 0


def pytest_collection_modifyitems(config, items):
    """`@pytest.mark.once` tests (a printout read back by LibreOffice, the whole demo year, a
    page walk) check what the database engine cannot change: one of the two runs covers each.
    `once` runs in the SQLite run; `once("postgres")` in the PostgreSQL run, so the two runs
    take about as long (they run side by side), or in the SQLite run when no server is up."""
    marked = [(item, item.get_closest_marker("once")) for item in items]
    marked = [(item, m.args[0] if m.args else "sqlite") for item, m in marked if m]
    if not marked:
        return
    pg = any(run == "postgres" for _, run in marked) and _pg_up()
    for item, run in marked:
        run = run if pg else "sqlite"
        if run != BACKEND:
            item.add_marker(pytest.mark.skip(
                reason=f"database-independent: checked in the {run} run"))
