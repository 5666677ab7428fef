"""Core CLI commands beyond the host basics: users, audit, jobs, scheduler, calendar, export."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from core.audit import acting_as


def register_core_commands(cli: click.Group) -> None:
    from core.cli import Ctx, fail, run_with_db
    from core.events_cli import register_cli as register_events
    from core.exports import register_cli as register_export

    register_export(cli)
    register_events(cli)

    @cli.group()
    def users() -> None:
        """Manage user accounts."""

    @users.command("create")
    @click.argument("username")
    @click.option("--role", required=True, type=click.Choice(["admin", "instructor", "unit_officer", "leader"]))
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    @click.option("--name", "display_name", default="", help="Display name.")
    @click.option("--email", default="")
    @click.option("--unit", default=None, help="Org unit code (required for unit_officer).")
    @click.pass_obj
    def users_create(obj: Ctx, username, role, password, display_name, email, unit) -> None:
        """Create a user."""
        from core import accounts, audit, passwords
        from core.orgs import OrgUnit

        weak = passwords.problem(password, "en", username=username, display_name=display_name)
        if weak:
            fail(weak)

        async def body(settings, host):
            unit_obj = None
            if unit:
                unit_obj = await OrgUnit.get_or_none(code=unit)
                if unit_obj is None:
                    fail(f"--unit: no org unit with code '{unit}'")
            with acting_as("cli"):
                try:
                    user = await accounts.create_user(username, password, role,
                                                      display_name=display_name, email=email,
                                                      unit=unit_obj)
                except ValueError as exc:
                    fail(str(exc))
                await audit.record("user.create", "user", user.username,
                                   after=audit.snapshot(user))
            click.echo(f"user {username} ({role}) created")

        run_with_db(obj, body)

    @users.command("list")
    @click.pass_obj
    def users_list(obj: Ctx) -> None:
        """List users."""
        from core.accounts import User

        async def body(settings, host):
            for u in await User.all().select_related("unit"):
                unit = u.unit.code if u.unit else "-"
                click.echo(f"{u.username}\t{u.role}\t{unit}\t{'active' if u.is_active else 'disabled'}")

        run_with_db(obj, body)

    @users.command("disable")
    @click.argument("username")
    @click.pass_obj
    def users_disable(obj: Ctx, username: str) -> None:
        """Disable a user and end their sessions and API tokens."""
        from core import accounts, audit
        from core.accounts import User

        async def body(settings, host):
            user = await User.get_or_none(username=username)
            if user is None:
                fail(f"no user '{username}'")
            user.is_active = False
            await user.save()
            with acting_as("cli"):
                await accounts.end_logins(user, "user.disable")
                await audit.record("user.disable", "user", username, after={"is_active": False})
            click.echo(f"user {username} disabled")

        run_with_db(obj, body)

    @users.command("reset-password")
    @click.argument("username")
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    @click.pass_obj
    def users_reset(obj: Ctx, username: str, password: str) -> None:
        """Set a new password and end the user's sessions and API tokens."""
        from core import accounts, audit, passwords
        from core.accounts import User

        async def body(settings, host):
            user = await User.get_or_none(username=username)
            if user is None:
                fail(f"no user '{username}'")
            weak = passwords.problem(password, "en", username=username,
                                     display_name=user.display_name)
            if weak:
                fail(weak)
            user.set_password(password)
            await user.save()
            with acting_as("cli"):
                await audit.record("user.reset_password", "user", username)
                await accounts.end_logins(user, "user.reset_password")
            click.echo(f"password of {username} reset")

        run_with_db(obj, body)

    @cli.group("audit")
    def audit_group() -> None:
        """The audit trail."""

    @audit_group.command("verify")
    @click.option("--anchors", "anchors", default=None, type=click.Path(dir_okay=False),
                  help="Another copy of the anchors (e.g. lines saved from the mail digest) "
                       "instead of [storage] audit_anchor_file.")
    @click.pass_obj
    def audit_verify(obj: Ctx, anchors: str | None) -> None:
        """Check the hash chain and compare it with the signed anchors kept outside the
        database (exit 1 on a broken chain, missing entries or a refused anchor)."""
        from core import audit_anchor

        async def body(settings, host):
            try:
                result = await audit_anchor.check(settings, Path(anchors) if anchors else None)
            except audit_anchor.AnchorError as exc:
                fail(str(exc))
            lines = audit_anchor.describe(result, "en")
            for level, text in lines:
                click.echo(text if level == "ok" else f"{level}: {text}",
                           err=level == "error")
            if not result.ok:
                raise SystemExit(1)

        run_with_db(obj, body)

    @cli.group()
    def jobs() -> None:
        """Scheduled jobs."""

    @jobs.command("list")
    @click.pass_obj
    def jobs_list(obj: Ctx) -> None:
        """List scheduled jobs: trigger, next run, last run."""
        from zoneinfo import ZoneInfo

        from core.scheduler import collect_jobs, describe_trigger, next_fire_time
        from core.scheduler_models import JobRun

        async def body(settings, host):
            tz = settings.app.timezone
            for spec in collect_jobs(settings, host).values():
                nxt = next_fire_time(spec.trigger, tz)
                last = await JobRun.filter(job_id=spec.id).order_by("-started_at", "-id").first()
                zone = ZoneInfo(tz)
                last_text = (f"{last.status} {last.scheduled_for.astimezone(zone):%Y-%m-%d %H:%M:%S}"
                             if last else "never run")
                nxt_text = f"{nxt.astimezone(zone):%Y-%m-%d %H:%M:%S}" if nxt else "-"
                click.echo(f"{spec.id}\t{describe_trigger(spec.trigger)}\tnext {nxt_text}\t"
                           f"last {last_text}\t{spec.description}")

        run_with_db(obj, body)

    @jobs.command("run")
    @click.argument("job_id")
    @click.pass_obj
    def jobs_run(obj: Ctx, job_id: str) -> None:
        """Run one job now (recorded as a manual run; exit 1 if it failed)."""
        import json

        from core import audit
        from core.scheduler import PlatformScheduler

        async def body(settings, host):
            sched = PlatformScheduler(settings, host)
            if job_id not in sched.jobs:
                fail(f"no job '{job_id}' (see `kaohe jobs list`)")
            with acting_as("cli"):
                await audit.record("job.run_now", "job", job_id)
            run = await sched.run_now(job_id)
            detail = run.error or json.dumps(run.changed, ensure_ascii=False)
            click.echo(f"{job_id}: {run.status} {detail}")
            if run.status != "ok":
                raise SystemExit(1)

        run_with_db(obj, body)

    @jobs.command("history")
    @click.argument("job_id", required=False)
    @click.option("--limit", default=20, type=click.IntRange(1, 10000), show_default=True)
    @click.option("--status", type=click.Choice(["running", "ok", "failed"]), default=None)
    @click.pass_obj
    def jobs_history(obj: Ctx, job_id: str | None, limit: int, status: str | None) -> None:
        """Show recent runs, newest first."""
        import json
        from zoneinfo import ZoneInfo

        from core.scheduler_models import JobRun

        async def body(settings, host):
            tz = ZoneInfo(settings.app.timezone)
            qs = JobRun.all()
            if job_id:
                qs = qs.filter(job_id=job_id)
            if status:
                qs = qs.filter(status=status)
            rows = await qs.order_by("-started_at", "-id").limit(limit)
            if not rows:
                click.echo("no runs")
            for r in rows:
                took = (f"{(r.finished_at - r.started_at).total_seconds():.1f}s"
                        if r.finished_at and r.started_at else "-")
                detail = r.error or json.dumps(r.changed, ensure_ascii=False)
                click.echo(f"{r.job_id}\t{r.scheduled_for.astimezone(tz):%Y-%m-%d %H:%M:%S}\t"
                           f"{'manual' if r.manual else 'scheduled'}\t{r.status}\t{took}\t"
                           f"{r.instance}\t{detail}")

        run_with_db(obj, body)

    @cli.command()
    @click.option("--no-catch-up", is_flag=True, help="Do not run firings missed while down.")
    @click.pass_obj
    def scheduler(obj: Ctx, no_catch_up: bool) -> None:
        """Run the scheduler alone, without the web app (stops on Ctrl+C or SIGTERM)."""
        import signal

        from core import db
        from core.scheduler import PlatformScheduler, describe_trigger

        settings, host = obj.boot()

        async def body():
            config = await db.init_db(settings, host)
            try:
                if await db.pending_migrations(config):
                    fail("pending migrations: run `kaohe migrate`")
                sched = PlatformScheduler(settings, host)
                stop = asyncio.Event()
                loop = asyncio.get_running_loop()
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(sig, stop.set)
                await sched.start(catch_up=not no_catch_up)
                click.echo(f"scheduler {sched.instance} running {len(sched.jobs)} jobs; "
                           "Ctrl+C stops")
                for job_id, spec in sched.jobs.items():
                    click.echo(f"  {job_id}\t{describe_trigger(spec.trigger)}\t"
                               f"next {sched.next_run(job_id)}")
                try:
                    await stop.wait()
                finally:
                    click.echo("stopping: waiting for running jobs")
                    await sched.shutdown()
            finally:
                await db.close_db()

        asyncio.run(body())

    @cli.group()
    def calendar() -> None:
        """Working-day calendar."""

    @calendar.command("load")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    @click.pass_obj
    def calendar_load(obj: Ctx, file: str) -> None:
        """Load a year's holiday schedule from a TOML file."""
        from core.calendar import apply_schedule, check_schedule

        text = Path(file).read_text(encoding="utf-8")
        try:
            check_schedule(text)  # before touching the database: errors name the key
        except ValueError as exc:
            fail(f"{file}: {exc}")

        async def body(settings, host):
            with acting_as("cli"):
                summary = await apply_schedule(text)
            click.echo(f"{summary.get('year')}: {summary.get('days')} days loaded")

        run_with_db(obj, body)
