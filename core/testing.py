"""A test kit for plugin authors: the whole platform on a migrated database of its own, a
client logged in as any role, and domain events announced through the real event store.

    from core.testing import running_platform

    async def test_my_listener(tmp_path):
        async with running_platform(tmp_path, plugins={"mine": my_plugin}) as kaohe:
            await kaohe.units()                      # 贵阳市 → 南明区/云岩区 → one community each
            report = await kaohe.announce("ranking.published", "k:1", {...})
            assert report.result_of("mine") == ...
            client = await kaohe.login_as("admin")   # an httpx client with a session
            assert (await client.get("/mine")).status_code == 200

Installed plugins (entry points) load as in production; `plugins` adds modules that are not
installed. The database is SQLite in `tmp_path` unless `database` names another URL (a
PostgreSQL database given there must exist and be empty). Argon2 runs at a cheap cost inside
the block, so logging in is fast; the platform's own cost is restored afterwards.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SETTINGS = """
[app]
secret_key = "kaohe-testing"
[database]
url = "{url}"
[scheduler]
enabled = false
[mail]
host = "127.0.0.1"
port = 1
[storage]
evidence_dir = "evidence"
reports_dir = "reports"
{extra}
"""
PASSWORD = "kaohe-testing-1"


@dataclass
class Platform:
    """What `running_platform` yields."""

    app: Any
    settings: Any
    host: Any
    clients: list[Any] = field(default_factory=list)
    _serial: Any = field(default_factory=lambda: itertools.count(1))

    async def units(self) -> dict[str, Any]:
        """A small unit tree and the periods 2014 (open) and 2013 (closed), by code."""
        from core.orgs import ensure_period, ensure_unit

        city, _ = await ensure_unit("520100", "贵阳市", "city")
        nm, _ = await ensure_unit("520102", "南明区", "district", city)
        yy, _ = await ensure_unit("520103", "云岩区", "district", city)
        hgy, _ = await ensure_unit("520102001", "花果园社区", "community", nm)
        ql, _ = await ensure_unit("520103001", "黔灵社区", "community", yy)
        await ensure_period("2014")
        await ensure_period("2013", status="closed")
        return {u.code: u for u in (city, nm, yy, hgy, ql)}

    async def user(self, role: str, unit_code: str | None = None,
                   username: str | None = None) -> Any:
        from core import accounts
        from core.orgs import OrgUnit

        unit = await OrgUnit.get(code=unit_code) if unit_code else None
        name = username or f"{role}{next(self._serial)}"
        return await accounts.create_user(name, PASSWORD, role, unit=unit)

    async def login_as(self, role: str, unit_code: str | None = None,
                       username: str | None = None, lang: str = "zh") -> Any:
        """A new user of `role` and an httpx client logged in as them through the login form;
        `client.csrf` holds the session's token for form posts."""
        import httpx

        user = await self.user(role, unit_code, username)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app),
                                   base_url="http://testserver")
        self.clients.append(client)
        client.cookies.set("lang", lang)
        r = await client.post("/login", data={"username": user.username,
                                              "password": PASSWORD})
        if r.status_code not in (302, 303):
            raise AssertionError(f"log-in as {role} failed: {r.status_code} {r.text[:200]}")
        client.csrf = (await client.get("/api/me")).json()["csrf"]
        client.user = user
        return client

    async def announce(self, name: str, key: str, payload: dict[str, Any],
                       source: str | None = None) -> Any:
        """Store an event and deliver it to every listener now: the DeliveryReport."""
        from core import events
        from core.contrib import DomainEvent

        return await events.publish(DomainEvent(name, key, payload,
                                                source or name.partition(".")[0]), self.host)


# Migrated SQLite databases by the plugins they were migrated for, made once per process:
# migrating from nothing takes seconds, and a suite opens many platforms with the same plugins.
_MIGRATED: dict[tuple[str, ...], Path] = {}


async def _copy_migrated(settings: Any, host: Any, target: Path) -> None:
    import shutil
    import tempfile

    from core import db

    key = tuple(sorted(f"{name}:{info.module}:{info.version}"
                       for name, info in host.plugins.items() if not info.error))
    if key not in _MIGRATED:
        made = Path(tempfile.mkdtemp(prefix="kaohe-testing-")) / "migrated.sqlite3"
        settings.database.url = f"sqlite://{made}"
        config = await db.init_db(settings, host)
        try:
            await db.migrate(config)
        finally:
            await db.close_db()
            settings.database.url = f"sqlite://{target}"
        _MIGRATED[key] = made
    shutil.copy(_MIGRATED[key], target)


@contextlib.asynccontextmanager
async def running_platform(tmp_path: Path, *, plugins: dict[str, Any] | None = None,
                           settings_extra: str = "", database: str | None = None
                           ) -> AsyncIterator[Platform]:
    from argon2 import PasswordHasher

    from core import accounts, db
    from core.app import create_app, platform_lifespan
    from core.boot import boot

    folder = Path(tmp_path) / "kaohe"
    folder.mkdir(parents=True, exist_ok=True)
    url = database or f"sqlite://{folder / 'kaohe.sqlite3'}"
    source = folder / "settings.toml"
    source.write_text(SETTINGS.format(url=url, extra=settings_extra), encoding="utf-8")
    settings, host = boot(str(source), extra_plugins=plugins or {})
    if database is None:
        await _copy_migrated(settings, host, folder / "kaohe.sqlite3")
    config = await db.init_db(settings, host)
    try:
        await db.migrate(config)  # a copied database has nothing pending
    finally:
        await db.close_db()
    hasher, accounts._hasher = accounts._hasher, PasswordHasher(
        time_cost=1, memory_cost=1024, parallelism=1)
    app = create_app(settings, host, run_scheduler=False)
    kit = Platform(app, settings, host)
    try:
        async with platform_lifespan(app):
            yield kit
            for client in kit.clients:
                await client.aclose()
    finally:
        accounts._hasher = hasher
