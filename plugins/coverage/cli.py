"""`kaohe import coverage-reports FILE --period P` and `kaohe import coverage-registry FILE`.

The preview is printed (created, changed, unchanged, every error with row and column), then
the command asks before saving; `--yes` skips the question, `--dry-run` stops after the
preview. Large files show a progress bar while the rows are checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from core.audit import acting_as

IMPORT_GROUP = "import"


def _group(cli: click.Group) -> click.Group:
    """The shared `kaohe import` group: created by whoever comes first."""
    existing = cli.commands.get(IMPORT_GROUP)
    if isinstance(existing, click.Group):
        return existing

    @cli.group(IMPORT_GROUP)
    def import_group() -> None:
        """Import workbooks or CSV (preview, then confirm)."""

    return import_group


def _print_plan(summary: dict[str, Any], errors: list[Any], extra: str = "") -> None:
    click.echo(f"create {summary['create']} · change {summary['change']} · "
               f"unchanged {summary['unchanged']} · errors {summary['errors']}"
               f" ({summary['error_rows']} rows){extra}")
    for e in errors[:200]:
        click.echo(f"  row {e.row} column {e.column or '-'} {e.header}: {e.message}", err=True)
    if len(errors) > 200:
        click.echo(f"  … {len(errors) - 200} more errors", err=True)


def register(cli: click.Group) -> None:
    from core.cli import Ctx, fail, run_with_db

    group = _group(cli)

    @group.command("coverage-reports")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    @click.option("--period", required=True, help="Reporting period, e.g. 2014Q3.")
    @click.option("--user", "username", default=None,
                  help="Report as this instructor (only their assigned organizations).")
    @click.option("--yes", is_flag=True, help="Save without asking.")
    @click.option("--dry-run", is_flag=True, help="Only show the preview.")
    @click.option("--lang", type=click.Choice(["zh", "en"]), default="zh")
    @click.pass_obj
    def import_reports(obj: Ctx, file: str, period: str, username: str | None, yes: bool,
                       dry_run: bool, lang: str) -> None:
        """Import instructors' reports of one period (rows keyed by credit code + period)
        from a workbook: .xlsx, .xls, .xlsb or .ods."""
        from tortoise.transactions import in_transaction

        from core.accounts import User
        from core.errors import KaoheError
        from core.orgs import PeriodClosedError
        from plugins.coverage.config import settings_of
        from plugins.coverage.reporting import plan_rows, report_period, save_plan
        from plugins.coverage.workbooks import REPORT_TEMPLATE, read_upload

        data = Path(file).read_bytes()

        async def body(settings, host):
            user = None
            if username:
                user = await User.get_or_none(username=username)
                if user is None:
                    fail(f"--user: no user '{username}'")
            try:
                the_period = await report_period(period)
                table = read_upload(data, Path(file).name, REPORT_TEMPLATE, the_period.code, lang,
                                    settings)
            except PeriodClosedError as exc:
                fail(f"--period: period {exc.code} is closed")
            except KaoheError as exc:
                fail(f"{'--period' if exc.field == 'period' else exc.field or 'file'}: "
                     f"{exc.message}")
            args = dict(sheet=table.sheet, letters=table.letters, prior=table.errors, lang=lang)
            if len(table.rows) >= settings_of(settings).progress_min_rows:
                with click.progressbar(length=len(table.rows), label="checking rows",
                                       file=click.get_text_stream("stderr")) as bar:
                    plan = await plan_rows(table.rows, the_period, user, progress=bar.update,
                                           **args)
            else:
                plan = await plan_rows(table.rows, the_period, user, **args)
            _print_plan(plan.summary(), plan.errors)
            if dry_run or not (plan.count("create") or plan.count("change")):
                click.echo("nothing saved" + (" (dry run)" if dry_run else ""))
                return
            if not yes and not click.confirm("save the valid rows?", default=False):
                click.echo("nothing saved")
                return
            import hashlib

            with acting_as(f"cli:{username}" if username else "cli"):
                async with in_transaction():
                    result = await save_plan(plan, user, source="cli",
                                             reference=hashlib.sha256(data).hexdigest())
            click.echo(f"saved: created {result['create']}, changed {result['change']}")

        run_with_db(obj, body)

    @group.command("coverage-registry")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    @click.option("--full", is_flag=True, help="The file is the whole registry: list what it lacks.")
    @click.option("--yes", is_flag=True, help="Save without asking.")
    @click.option("--dry-run", is_flag=True, help="Only show the preview.")
    @click.option("--lang", type=click.Choice(["zh", "en"]), default="zh")
    @click.pass_obj
    def import_registry(obj: Ctx, file: str, full: bool, yes: bool, dry_run: bool,
                        lang: str) -> None:
        """Load or update the registry of organizations, keyed by credit code, from a
        workbook (.xlsx, .xls, .xlsb, .ods) or CSV (UTF-8 or GB18030)."""
        import hashlib

        from core.errors import KaoheError
        from plugins.coverage.registry_import import plan_registry, save_registry
        from plugins.coverage.workbooks import REGISTRY_TEMPLATE, read_upload

        data = Path(file).read_bytes()

        async def body(settings, host):
            try:
                table = read_upload(data, Path(file).name, REGISTRY_TEMPLATE, None, lang, settings)
            except KaoheError as exc:
                fail(f"{exc.field or 'file'}: {exc.message}")
            plan = await plan_registry(table.rows, full=full, sheet=table.sheet,
                                       letters=table.letters, prior=table.errors, lang=lang)
            _print_plan(plan.summary(), plan.errors,
                        f" · missing from the file {len(plan.missing)}" if full else "")
            new_missing = [o for o in plan.missing if not getattr(o, "_already_listed", False)]
            if dry_run or not (plan.count("create") or plan.count("change") or new_missing):
                click.echo("nothing saved" + (" (dry run)" if dry_run else ""))
                return
            if not yes and not click.confirm("save the valid rows?", default=False):
                click.echo("nothing saved")
                return
            with acting_as("cli"):
                result = await save_registry(plan, "cli", filename=Path(file).name,
                                             sha256=hashlib.sha256(data).hexdigest())
            click.echo(f"saved: created {result['create']}, changed {result['change']}, "
                       f"listed missing {result['listed_missing']}")

        run_with_db(obj, body)
