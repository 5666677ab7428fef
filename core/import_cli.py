"""`kaohe import NAME FILE`: every importer on the command line, through the same flow as the
page (core.import_flow): the preview is printed (counts and every refused cell), then the
command asks before saving; `--yes` skips the question, `--dry-run` stops after the preview.
The importer's fields are options (`--period 2014Q3`, a flag for a yes/no field)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from core.contrib import Importer

GROUP = "import"


def import_group(cli: click.Group) -> click.Group:
    """The shared `kaohe import` group: created by whoever comes first."""
    existing = cli.commands.get(GROUP)
    if isinstance(existing, click.Group):
        return existing

    @cli.group(GROUP)
    def group() -> None:
        """Import workbooks or CSV (preview, then confirm)."""

    return group


def _print_preview(preview: dict[str, Any]) -> None:
    errors = preview.get("errors", [])
    click.echo(f"create {len(preview.get('create', []))} · change "
               f"{len(preview.get('change', []))} · unchanged {preview.get('unchanged') or 0} · "
               f"errors {len(errors)}")
    if preview.get("summary"):
        click.echo(preview["summary"])
    for e in errors[:200]:
        click.echo(f"  row {e.get('row')} column {e.get('column') or '-'} "
                   f"{e.get('header') or ''}: {e.get('message')}", err=True)
    if len(errors) > 200:
        click.echo(f"  … {len(errors) - 200} more errors", err=True)


def _command(imp: Importer) -> click.Command:
    from core.cli import Ctx, fail, run_with_db

    def run(obj: Ctx, file: str, username: str, yes: bool, dry_run: bool, lang: str,
            **given: Any) -> None:
        from core import import_flow
        from core.accounts import User
        from core.audit import acting_as
        from core.errors import FieldsInvalid, KaoheError

        data = Path(file).read_bytes()

        async def body(settings: Any, host: Any) -> None:
            user = await User.get_or_none(username=username, is_active=True)
            if user is None:
                fail(f"--user: no active user '{username}'")
            if user.role not in imp.roles:
                fail(f"--user: role {user.role} may not use {imp.name} ({', '.join(imp.roles)})")
            ctx = import_flow.ImportContext(user=user, lang=lang, settings=settings,
                                            filename=Path(file).name)
            with acting_as(f"cli:{username}"):
                try:
                    ctx.fields = await import_flow.check_fields(imp, given, ctx)
                    pending = await import_flow.preview(imp, ctx, data)
                except FieldsInvalid as exc:
                    fail("; ".join(f"--{k}: {m}" for k, m in exc.errors.items()))
                except KaoheError as exc:
                    fail(f"{exc.field or 'file'}: {exc.message}")
                preview = pending.preview
                _print_preview(preview)
                blocked = preview.get("errors") and not imp.allow_errors
                if dry_run or blocked or not (preview.get("create") or preview.get("change")):
                    await import_flow.cancel(imp, pending.token, ctx)
                    click.echo("nothing saved" + (" (dry run)" if dry_run else ""))
                    if blocked and not dry_run:
                        raise SystemExit(1)
                    return
                if not yes and not click.confirm("save?", default=False):
                    await import_flow.cancel(imp, pending.token, ctx)
                    click.echo("nothing saved")
                    return
                try:
                    _, message = await import_flow.confirm(imp, pending.token, ctx)
                except KaoheError as exc:
                    fail(exc.message)
                click.echo(message)

        run_with_db(obj, body)

    params: list[click.Parameter] = [
        click.Argument(["file"], type=click.Path(exists=True, dir_okay=False)),
        click.Option(["--user", "username"], required=True,
                     help=f"Import as this user (role: {', '.join(imp.roles)})."),
        click.Option(["--yes"], is_flag=True, help="Save without asking."),
        click.Option(["--dry-run"], is_flag=True, help="Only show the preview."),
        click.Option(["--lang"], type=click.Choice(["zh", "en"]), default="zh"),
    ]
    from core import i18n

    for f in imp.fields:
        flag = f"--{f.name.replace('_', '-')}"
        if f.kind == "bool":
            params.append(click.Option([flag, f.name], is_flag=True, help=i18n.t(f.label, "en")))
        else:
            params.append(click.Option([flag, f.name], required=f.required, default=None,
                                       help=i18n.t(f.label, "en")))
    return click.Command(imp.name, callback=click.pass_obj(run), params=params,
                         help=f"Import {imp.name}: preview, then confirm (core import flow).")


def register(cli: click.Group, host: Any) -> None:
    """One command per importer a plugin's own command does not already provide."""
    group = import_group(cli)
    for _, imp in host.collect("kaohe_importers"):
        if imp.name not in group.commands:
            group.add_command(_command(imp))
