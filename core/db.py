"""Database: Tortoise config built from the plugins, init/close, migrations."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from tortoise import Tortoise
from tortoise.backends.base import executor as _executor
from tortoise.migrations.executor import MigrationExecutor

from core.plugins import PluginHost
from core.settings import Settings

log = logging.getLogger("kaohe.db")

CORE_MODELS = [
    "core.orgs",
    "core.accounts",
    "core.audit",
    "core.assessments",
    "core.scheduler_models",
    "core.events_models",
    "core.notify_models",
    "core.archive",
    "core.calendar_models",
    "core.uploads_models",
]


class DatabaseError(Exception):
    """The database cannot be used; the message is one line for the user."""


def database_url(settings: Settings) -> str:
    url = settings.database.url
    if url.startswith("sqlite://") and url != "sqlite://:memory:":
        path = Path(url[len("sqlite://") :])
        if not path.is_absolute():
            path = settings.base_dir / path
        path.parent.mkdir(parents=True, exist_ok=True)
        # 64 MB page cache instead of SQLite's 2 MB: statistics over 100,000 organizations
        # re-read their tables otherwise (the URL's parameters become PRAGMAs).
        return f"sqlite://{path}?cache_size=-65536"
    return url


def tortoise_config(settings: Settings, host: PluginHost) -> dict[str, Any]:
    apps: dict[str, Any] = {
        "core": {"models": CORE_MODELS, "migrations": "core.migrations", "default_connection": "default"}
    }
    for name, app in host.per_plugin("kaohe_tortoise_app").items():
        if not app:
            continue
        if "migrations" not in app:
            raise DatabaseError(f"plugin '{name}': kaohe_tortoise_app must name a migrations package")
        apps[name] = {"models": list(app["models"]), "migrations": app["migrations"],
                      "default_connection": "default"}
    return {
        "connections": {"default": database_url(settings)},
        "apps": apps,
        "use_tz": True,
        "timezone": settings.app.timezone,
    }


def dialect() -> str:
    return Tortoise.get_connection("default").capabilities.dialect


def _sqlite_datetimes_in_utc() -> None:
    """SQLite keeps datetimes as text and compares them as text; Tortoise writes each value
    with whatever offset it carries (+08:00 from save(), +00:00 from update()), so ranges
    went wrong. Writing every aware datetime in UTC makes text order equal time order."""
    import sqlite3

    import tortoise.backends.sqlite.executor  # noqa: F401  (registers Tortoise's adapter first)

    def adapt(value: dt.datetime) -> str:
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.isoformat(" ")

    sqlite3.register_adapter(dt.datetime, adapt)


async def init_db(settings: Settings, host: PluginHost) -> dict[str, Any]:
    config = tortoise_config(settings, host)
    if config["connections"]["default"].startswith("sqlite"):
        _sqlite_datetimes_in_utc()
    await close_db()
    try:
        await Tortoise.init(config=config, _enable_global_fallback=True)
        await Tortoise.get_connection("default").execute_query("SELECT 1")
    except DatabaseError:
        raise
    except Exception as exc:
        await close_db()
        raise DatabaseError(f"database {_redact(config['connections']['default'])} "
                            f"is not reachable: {type(exc).__name__}: {exc}") from None
    return config


async def close_db() -> None:
    from tortoise import context

    try:
        if Tortoise._get_context() is not None:
            await Tortoise.close_connections()
    finally:
        context._global_context = None
        token_ctx = context._current_context.get()
        if token_ctx is not None:
            context._current_context.set(None)
        # The executor cache is keyed without the dialect; clear it so SQLite and
        # PostgreSQL can follow each other in one process (tests).
        _executor.EXECUTOR_CACHE.clear()


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def _executor_for(config: dict[str, Any]) -> MigrationExecutor:
    return MigrationExecutor(Tortoise.get_connection("default"), config["apps"])


async def pending_migrations(config: dict[str, Any]) -> list[str]:
    steps = await _executor_for(config).plan(None)
    return [f"{s.migration.app_label}.{s.migration.name}" for s in steps if not s.backward]


async def migrate(config: dict[str, Any], progress=None) -> list[str]:
    """Apply every pending migration, in dependency order across apps."""
    applied: list[str] = []

    def _progress(event: str, app: str, name: str) -> None:
        if event == "apply_done":
            applied.append(f"{app}.{name}")
        if progress:
            progress(event, app, name)

    try:
        await _executor_for(config).migrate(None, progress=_progress)
    except Exception as exc:
        raise DatabaseError(f"migration failed: {type(exc).__name__}: {exc}") from None
    return applied


async def makemigrations(config: dict[str, Any], app_label: str, name: str | None = None,
                         empty: bool = False) -> list[str]:
    """Write new migration files for one app from its models' changes."""
    from tortoise.migrations.autodetector import MigrationAutodetector
    from tortoise.migrations.writer import MigrationWriter, format_migration_name

    if app_label not in config["apps"]:
        raise DatabaseError(f"unknown app '{app_label}' (known: {', '.join(config['apps'])})")
    apps_config = {label: dict(app) for label, app in config["apps"].items()}
    detector = MigrationAutodetector(Tortoise.apps, apps_config)
    if empty:
        await detector.loader.build_graph()
        old, new = await detector._project_state(), detector._current_state()
        deps = sorted((k.app_label, k.name) for k in detector._leaf_nodes(app_label))
        mig_name, initial = detector._migration_name(app_label, old, new)
        writers = [MigrationWriter(mig_name, app_label, [], dependencies=deps, initial=initial,
                                   migrations_module=apps_config[app_label]["migrations"])]
    else:
        writers = [w for w in await detector.changes() if w.app_label == app_label]
    paths = []
    for writer in writers:
        if name:
            number = int(writer.name.split("_", 1)[0])
            writer.name = format_migration_name(number, name)
        paths.append(str(writer.write()))
    return paths
