"""The `kaohe` command. Plugins add commands through `kaohe_cli_commands`."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import click

from core import db
from core.assessments import DefinitionError
from core.boot import boot
from core.plugins import PluginError, PluginHost
from core.settings import (
    DEFAULT_FILE,
    DEFAULT_SECRETS,
    Settings,
    SettingsError,
    database_option,
    find_settings_file,
)

EXPECTED = (SettingsError, PluginError, db.DatabaseError)


class Ctx:
    def __init__(self, settings_path: str | None, database: str | None = None):
        self.settings_path = settings_path
        self.database = database
        self._booted: tuple[Settings, PluginHost] | None = None

    def boot(self, need_settings: bool = True) -> tuple[Settings, PluginHost]:
        """Settings and plugins. Without a settings file and without --database, a command
        would silently make ./data/kaohe.sqlite3: it is refused instead (`kaohe demo` names
        its own database and passes need_settings=False)."""
        if self._booted is None:
            if (need_settings and self.database is None
                    and find_settings_file(self.settings_path) is None):
                raise SettingsError(
                    f"no settings file: looked for {Path.cwd() / DEFAULT_FILE}; name one with "
                    "--settings FILE (or KAOHE_SETTINGS=FILE), or the database with --database URL")
            settings, host = boot(self.settings_path)
            if self.database is not None:
                settings.core.database.url = database_option(self.database)
            self._booted = settings, host
        return self._booted


def fail(message: str, code: int = 2) -> None:
    click.echo(f"kaohe: {message}", err=True)
    sys.exit(code)


def run_with_db(ctx: Ctx, body: Callable[[Settings, PluginHost], Awaitable[Any]],
                migrate_first: bool | None = None) -> Any:
    """Boot, open the database, check migrations, run `body`, always close."""
    settings, host = ctx.boot()

    async def runner():
        config = await db.init_db(settings, host)
        try:
            pending = await db.pending_migrations(config)
            if pending:
                auto = settings.database.auto_migrate if migrate_first is None else migrate_first
                if not auto:
                    raise db.DatabaseError(f"{len(pending)} pending migrations: run `kaohe migrate`")
                await db.migrate(config)
            return await body(settings, host)
        finally:
            await db.close_db()

    return asyncio.run(runner())


class KaoheGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EXPECTED as exc:
            fail(str(exc))
        except DefinitionError as exc:
            for err in exc.errors:
                click.echo(f"  {err}", err=True)
            fail(f"assessment definition rejected ({len(exc.errors)} errors)")


@click.group(cls=KaoheGroup)
@click.option("--settings", "settings_path", envvar="KAOHE_SETTINGS", default=None,
              help="Path of settings.toml (default: ./settings.toml).")
@click.option("--database", "database", envvar="KAOHE_DATABASE", default=None, metavar="URL",
              help="Database for this command, replacing the settings' one: sqlite://FILE, "
                   "postgres://USER@HOST:PORT/DB, or the path of an existing SQLite file.")
@click.pass_context
def cli(ctx: click.Context, settings_path: str | None, database: str | None) -> None:
    """kaohe 考核: party-building and target-assessment workflow platform."""
    ctx.obj = Ctx(settings_path, database)


@cli.command()
@click.option("--host", default=None, help="Address to bind (default from settings).")
@click.option("--port", default=None, type=int, help="Port (default from settings).")
@click.option("--workers", default=None, type=click.IntRange(1, 64),
              help="Worker processes (default: [app] workers, else one per core; 1 on SQLite).")
@click.option("--no-scheduler", is_flag=True, help="Do not run scheduled jobs in this process.")
@click.pass_obj
def serve(obj: Ctx, host: str | None, port: int | None, workers: int | None,
          no_scheduler: bool) -> None:
    """Serve the web platform."""
    serve_app(obj, host, port, no_scheduler, workers)


def settle_heap() -> None:
    """Move what start-up built (modules, plugins, routes: ~70,000 objects that live as long
    as the process) out of the collector's reach, so the collections a 10,000-row upload
    triggers no longer walk them all each time (gc.freeze)."""
    import gc

    gc.collect()
    gc.freeze()


def worker_count(settings: Settings, asked: int | None = None) -> int:
    """--workers, else [app] workers, else one per core; an SQLite file gets one process
    unless asked for more, because it has one writer at a time (several processes wait on
    its lock instead of working)."""
    if asked:
        return asked
    if settings.app.workers:
        return settings.app.workers
    if db.database_url(settings).startswith("sqlite"):
        return 1
    return os.cpu_count() or 1


def serve_app(obj: Ctx, host: str | None, port: int | None, no_scheduler: bool = False,
              workers: int | None = None) -> None:
    import uvicorn

    from core.app import SERVE_ENV, create_app, serve_options

    settings, plugin_host = obj.boot()
    count = worker_count(settings, workers)

    async def precheck():
        config = await db.init_db(settings, plugin_host)
        try:
            pending = await db.pending_migrations(config)
            if pending:
                if not settings.database.auto_migrate:
                    raise db.DatabaseError(f"{len(pending)} pending migrations: run `kaohe migrate`")
                # Here, once, before any worker starts: N workers would race to apply them.
                await db.migrate(config)
        finally:
            await db.close_db()

    asyncio.run(precheck())
    bind_host, bind_port = host or settings.app.host, port or settings.app.port
    run_scheduler = False if no_scheduler else None
    if count > 1 and settings.database.url.startswith("sqlite"):
        click.echo(f"kaohe: warning: {count} workers on one SQLite file take turns at its write "
                   "lock; use PostgreSQL for several workers", err=True)
    click.echo(f"kaohe serving on http://{bind_host}:{bind_port}/"
               + (f" ({count} worker processes)" if count > 1 else ""))
    if count == 1:
        app = create_app(settings, plugin_host, run_scheduler=run_scheduler)
        settle_heap()
        uvicorn.run(app, host=bind_host, port=bind_port, log_level="warning")
        return
    # uvicorn's supervisor spawns each worker as a new interpreter that builds its own app
    # (core.app.serve_factory), database pool and Redis client, and restarts a worker that
    # dies; the options travel in the environment the workers inherit.
    os.environ[SERVE_ENV] = serve_options(settings, run_scheduler)
    uvicorn.run("core.app:serve_factory", factory=True, workers=count, host=bind_host,
                port=bind_port, log_level="warning", timeout_worker_healthcheck=30)


@cli.command()
@click.pass_obj
def migrate(obj: Ctx) -> None:
    """Apply all pending migrations in dependency order."""
    settings, host = obj.boot()

    async def body():
        config = await db.init_db(settings, host)
        try:
            applied = await db.migrate(config, progress=lambda e, a, n: e == "apply_done" and
                                       click.echo(f"  applied {a}.{n}"))
            click.echo(f"{len(applied)} migrations applied" if applied else "no pending migrations")
        finally:
            await db.close_db()

    asyncio.run(body())


@cli.command()
@click.argument("app_label")
@click.option("--name", default=None, help="Name of the migration.")
@click.option("--empty", is_flag=True, help="Write an empty migration to fill by hand.")
@click.pass_obj
def makemigrations(obj: Ctx, app_label: str, name: str | None, empty: bool) -> None:
    """Create a migration for one plugin (or core) from its models' changes."""
    settings, host = obj.boot()

    async def body():
        config = await db.init_db(settings, host)
        try:
            paths = await db.makemigrations(config, app_label, name=name, empty=empty)
        finally:
            await db.close_db()
        click.echo("\n".join(f"created {p}" for p in paths) or "no changes detected")

    asyncio.run(body())


@cli.command("plugins")
@click.pass_obj
def plugins_cmd(obj: Ctx) -> None:
    """List loaded plugins with version and what each contributes."""
    _, host = obj.boot(need_settings=False)
    for info in host.describe():
        if info.error:
            click.echo(f"{info.name}  FAILED  {info.error}")
            continue
        hooks = ", ".join(h.removeprefix("kaohe_") for h in info.contributes.get("hooks", []))
        click.echo(f"{info.name} {info.version} ({info.distribution}): {hooks}")


@cli.command("check-config")
@click.pass_obj
def check_config(obj: Ctx) -> None:
    """Validate settings, plugins and job rules without starting anything."""
    from core.scheduler import collect_jobs

    settings, host = obj.boot()
    jobs = collect_jobs(settings, host)
    for warning in settings_warnings(settings):
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"settings OK ({settings.source or 'defaults'}); plugins: {', '.join(host.plugins)}; "
               f"{len(jobs)} jobs; serve workers: {worker_count(settings)}")


def settings_warnings(settings: Settings) -> list[str]:
    """What an instance should not run with, though it starts (the demo is exempt)."""
    found = []
    if settings.app.secret_key in DEFAULT_SECRETS:
        found.append("app.secret_key is still the default: set a long random value, e.g. "
                     "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'")
    return found


@cli.group()
def assessments() -> None:
    """Assessment definitions (assessments/*.toml)."""


@assessments.command("apply")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--check", is_flag=True, help="Only validate; change nothing.")
@click.pass_obj
def assessments_apply(obj: Ctx, file: str, check: bool) -> None:
    """Validate an assessment definition and apply it idempotently."""
    from core import assessments as a
    from core.audit import acting_as

    text = Path(file).read_text(encoding="utf-8")
    if check:
        a.parse(text, obj.boot()[1])
        click.echo(f"{file}: valid")
        return

    async def body(settings, host):
        with acting_as("cli"):
            row, changed = await a.apply(text, host, applied_by="cli")
        click.echo(f"{row.slug}: version {row.version} applied" if changed
                   else f"{row.slug}: unchanged (version {row.version})")

    run_with_db(obj, body)


def main() -> None:
    from core import demo_cli
    from core.commands import register_core_commands

    register_core_commands(cli)
    demo_cli.register(cli)
    # Plugin commands need the plugins loaded; a broken settings file must still allow --help.
    try:
        ctx_settings = None
        for i, arg in enumerate(sys.argv):
            if arg == "--settings" and i + 1 < len(sys.argv):
                ctx_settings = sys.argv[i + 1]
        _, host = boot(ctx_settings)
        host.pm.hook.kaohe_cli_commands(cli=cli)
        from core import import_cli

        import_cli.register(cli, host)  # after the plugins' own, which take precedence
    except EXPECTED as exc:
        if not any(a in ("--help", "-h") for a in sys.argv[1:]):
            fail(str(exc))
    cli(prog_name="kaohe")
