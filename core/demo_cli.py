"""The `kaohe demo` command: build (or rebuild) the demo database, then serve it.

The demo lives on 2014-12-31. Its settings (the instance's, with the demo database, its file
folders and `[app] today` pinned) are written beside the database as NAME-settings.toml, so
serving the demo and any later command given `--settings` that file see the same day.
"""

from __future__ import annotations

import asyncio
import shutil
import time
import tomllib
from pathlib import Path

import click
import tomli_w
from tortoise import Tortoise

from core import clock, db

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
        path = settings.path(db_path).resolve()
        files = path.parent / f"{path.stem}-files"
        demo_file = write_demo_settings(settings, path, files)
        obj.settings_path, obj.database, obj._booted = str(demo_file), None, None
        settings, plugin_host = obj.boot()
        if reset:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            shutil.rmtree(files, ignore_errors=True)
        if not path.exists():
            _build(settings, plugin_host, seed)
        else:
            click.echo(f"demo database exists: {path} (use --reset to rebuild)")
        _print_accounts()
        click.echo(f"demo settings (the clock stays on {settings.app.today}): {demo_file}")
        _print_next_steps(demo_file)
        if not no_serve:
            serve_app(obj, host, port)


def write_demo_settings(settings, path: Path, files: Path) -> Path:
    """The instance's settings file with the demo's database, folders and pinned day."""
    from core.demo import END

    raw = tomllib.loads(settings.source.read_text(encoding="utf-8")) if settings.source else {}
    raw.setdefault("app", {})["today"] = END.isoformat()
    raw.setdefault("database", {})["url"] = f"sqlite://{path}"
    # Evidence and archived reports belong to this demo database: keep them beside it.
    raw.setdefault("storage", {}).update(evidence_dir=str(files / "evidence"),
                                         reports_dir=str(files / "reports"))
    for section, key in (("app", "data_dir"), ("rectification", "evidence_dir")):
        value = raw.get(section, {}).get(key)
        if value:  # relative paths were relative to the instance's file: keep them so
            raw[section][key] = str(settings.path(value).resolve())
    target = path.parent / f"{path.stem}-settings.toml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("# Written by `kaohe demo`: the instance's settings on the demo's database, "
                      "pinned to its last day.\n" + tomli_w.dumps(raw), encoding="utf-8")
    return target


def _build(settings, plugin_host, seed: int) -> None:
    from core import demo

    started = time.perf_counter()

    async def run():
        config = await db.init_db(settings, plugin_host)
        try:
            await db.migrate(config)
            # The year is thousands of small commits; a build that fails is deleted, so it
            # need not wait for each one to reach the disk.
            await Tortoise.get_connection("default").execute_script("PRAGMA synchronous = OFF")
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
        clock.travel(clock.parse_day(settings.app.today))
        # A half-built demo database must not be served next time.
        Path(settings.database.url[len("sqlite://"):]).unlink(missing_ok=True)
        raise
    clock.travel(clock.parse_day(settings.app.today))  # the walk ends there; serving stays
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
    """Ready-to-copy commands that work on the demo's data and day, from the current folder."""
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
    base = f"{kaohe} --settings {where}"  # the demo's settings: its database and its pinned day
    return [f"{base} export ranking --period 2014H1 --group districts -o ranking-2014H1.xlsx",
            f"{base} audit verify",
            f"{base} jobs list"]


def _print_next_steps(path: Path) -> None:
    click.echo("try these on the demo's data:")
    for line in next_steps(path):
        click.echo(f"  {line}")
