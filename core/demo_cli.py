"""The `kaohe demo` command: build (or rebuild) the demo database, then serve it."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import click

from core import db

DEMO_DB = "data/demo.sqlite3"
STEPS = 4 + 4  # definition, tree, accounts, + one per built-in plugin


def register(cli: click.Group) -> None:
    from core.cli import Ctx, serve_app

    @cli.command()
    @click.option("--reset", is_flag=True, help="Delete the demo database and build it anew.")
    @click.option("--no-serve", is_flag=True, help="Only build the database; do not serve it.")
    @click.option("--seed", default=2014, show_default=True, help="Seed of the data generator.")
    @click.option("--db", "db_path", default=DEMO_DB, show_default=True, help="SQLite file to use.")
    @click.option("--host", default=None, help="Address to bind.")
    @click.option("--port", default=None, type=int, help="Port.")
    @click.pass_obj
    def demo(obj: Ctx, reset: bool, no_serve: bool, seed: int, db_path: str, host, port) -> None:
        """Build the Guiyang demo database (SQLite) and serve it."""
        settings, plugin_host = obj.boot(need_settings=False)
        path = settings.path(db_path)
        settings.core.database.url = f"sqlite://{path}"
        # Evidence and archived reports belong to this demo database: keep them beside it.
        files = path.parent / f"{path.stem}-files"
        settings.core.storage.evidence_dir = str(files / "evidence")
        settings.core.storage.reports_dir = str(files / "reports")
        if reset:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            shutil.rmtree(files, ignore_errors=True)
        if not path.exists():
            _build(settings, plugin_host, seed)
        else:
            click.echo(f"demo database exists: {path} (use --reset to rebuild)")
        _print_accounts()
        _print_next_steps(path)
        if not no_serve:
            serve_app(obj, host, port)


def _build(settings, plugin_host, seed: int) -> None:
    from core import demo

    started = time.perf_counter()

    async def run():
        config = await db.init_db(settings, plugin_host)
        try:
            await db.migrate(config)
            with click.progressbar(length=STEPS, label="building demo", show_eta=False,
                                   item_show_func=lambda x: x) as bar:
                def progress(label: str) -> None:
                    bar.label = f"demo: {label:<28}"
                    bar.update(1)

                return await demo.build(settings, plugin_host, seed=seed, progress=progress)
        finally:
            await db.close_db()

    try:
        ctx = asyncio.run(run())
    except BaseException:
        # A half-built demo database must not be served next time.
        Path(settings.database.url[len("sqlite://"):]).unlink(missing_ok=True)
        raise
    click.echo(f"\ndemo built in {time.perf_counter() - started:.1f} s: "
               f"{len(ctx.districts)} county-level units, {len(ctx.communities)} communities, "
               f"{ctx.grids} grids")
    for name, summary in ctx.summary.items():
        click.echo(f"  {name} ({ctx.timings.get(name, 0):.1f} s): {summary or ''}")


def _print_accounts() -> None:
    from core.demo import ROLE_ACCOUNTS, demo_password

    click.echo("demo accounts (user name / password):")
    for role, (username, name, _) in ROLE_ACCOUNTS.items():
        click.echo(f"  {role:<13} {username:<11} {demo_password(role)}   {name}")


def next_steps(path: Path) -> list[str]:
    """Ready-to-copy commands that work on the demo's database, from the current folder."""
    import sys

    program = Path(sys.argv[0])
    if program.name == "__main__.py":
        return [line.replace("kaohe ", "python3 -m core ", 1) for line in next_steps_for("kaohe", path)]
    try:
        kaohe = str(program.resolve().relative_to(Path.cwd())) if program.parent != Path() else "kaohe"
    except ValueError:
        kaohe = "kaohe" if program.name == "kaohe" else str(program)
    if kaohe != "kaohe" and "/" not in kaohe:
        kaohe = f"./{kaohe}"
    return next_steps_for(kaohe, path)


def next_steps_for(kaohe: str, path: Path) -> list[str]:
    try:
        where = str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        where = str(path.resolve())
    base = f"{kaohe} --database {where}"
    return [f"{base} export ranking --period 2014H1 --group districts -o ranking-2014H1.xlsx",
            f"{base} audit verify",
            f"{base} jobs list"]


def _print_next_steps(path: Path) -> None:
    click.echo("try these on the demo's data:")
    for line in next_steps(path):
        click.echo(f"  {line}")
