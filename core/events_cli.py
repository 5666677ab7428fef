"""`kaohe events list|retry`: the deliveries not taken yet, and an admin's retry."""

from __future__ import annotations

from typing import Any

import click

from core.events_models import DELIVERY_STATUSES


def register_cli(cli: Any) -> None:
    from core.cli import Ctx, fail, run_with_db

    @cli.group()
    def events() -> None:
        """Domain events: failed and pending deliveries, retries."""

    @events.command("list")
    @click.option("--status", type=click.Choice(DELIVERY_STATUSES), default=None,
                  help="Only this status (default: failed, and pending past the grace time).")
    @click.option("--listener", default=None, help="Only this listening plugin.")
    @click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
    @click.pass_obj
    def events_list(obj: Ctx, status: str | None, listener: str | None, limit: int) -> None:
        """List event deliveries, newest first: id, listener, status, attempts, next try,
        event key, last error."""
        from core import clock
        from core.events import undelivered

        async def body(settings, host):
            rows = await undelivered(status, listener).order_by("-id").limit(limit) \
                .select_related("event")
            for d in rows:
                when = d.next_try.astimezone(clock.tz()).strftime("%Y-%m-%d %H:%M") \
                    if d.next_try else "-"
                error = d.last_error.splitlines()[0][:120] if d.last_error else ""
                click.echo(f"{d.id}\t{d.listener}\t{d.status}\t{d.attempts}\t{when}\t"
                           f"{d.event.key}\t{error}")
            if not rows:
                click.echo("no deliveries waiting" if status is None else f"no {status} deliveries")

        run_with_db(obj, body)

    @events.command("retry")
    @click.argument("ids", nargs=-1, type=click.IntRange(1, 2**63 - 1))
    @click.option("--listener", default=None, help="Every waiting delivery to this plugin.")
    @click.option("--all", "everything", is_flag=True, help="Every waiting delivery.")
    @click.pass_obj
    def events_retry(obj: Ctx, ids: tuple[int, ...], listener: str | None,
                     everything: bool) -> None:
        """Deliver now the failed or pending deliveries with these ids (see `events list`)."""
        from core import audit
        from core.events import schedule_retry
        from core.events_models import EventDelivery

        if not (ids or listener or everything):
            fail("name delivery ids, --listener NAME or --all")

        async def body(settings, host):
            if ids:
                known = set(await EventDelivery.filter(
                    id__in=ids, status__in=("pending", "failed")).values_list("id", flat=True))
                missing = sorted(set(ids) - known)
                if missing:
                    fail(f"no failed or pending delivery with id {', '.join(map(str, missing))}")
            with audit.acting_as("cli"):
                report = await schedule_retry(list(ids) or None, listener, host)
            click.echo(f"delivered {len(report.delivered)}, failed {len(report.failed)}")
            for o in report.failed:
                click.echo(f"failed\t{o.listener}\t{o.key}\t{o.error[:200]}")
            if report.failed:
                raise SystemExit(1)

        run_with_db(obj, body)
