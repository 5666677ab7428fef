"""`kaohe ranking compute|publish|verify|missing` and `kaohe reports list|run|dry-run`."""

from __future__ import annotations

import json
from typing import Any

import click

from core.audit import acting_as
from core.errors import KaoheError


def register(cli: click.Group) -> None:
    from core.cli import Ctx, fail, run_with_db

    def run(obj: Ctx, body) -> Any:
        async def wrapped(settings, host):
            try:
                with acting_as("cli"):
                    return await body(settings)
            except KaoheError as exc:
                fail(exc.message)

        return run_with_db(obj, wrapped)

    @cli.group("ranking")
    def ranking_group() -> None:
        """工作绩效排位: compute, publish and verify rankings."""

    period_opt = click.option("--period", required=True, help="Period code, e.g. 2014.")
    group_opt = click.option("--group", required=True, help="Peer group key, e.g. districts.")

    @ranking_group.command("missing")
    @period_opt
    @group_opt
    @click.pass_obj
    def missing_cmd(obj: Ctx, period: str, group: str) -> None:
        """List the values still missing before computing."""
        from plugins.ranking.values import missing_values

        async def body(settings):
            found = await missing_values(period, group)
            click.echo(f"{found['units']} units, {found['missing_values']} missing values "
                       f"(policy: {found['policy']})")
            for m in found["missing"]:
                names = "、".join(i["name"] for i in m["indicators"])
                click.echo(f"  {m['unit_code']} {m['unit_name']}: {names}")

        run(obj, body)

    @ranking_group.command("compute")
    @period_opt
    @group_opt
    @click.pass_obj
    def compute_cmd(obj: Ctx, period: str, group: str) -> None:
        """Compute (or recompute) the draft ranking."""
        from plugins.ranking import models
        from plugins.ranking.rankings import compute

        async def body(settings):
            ranking = await compute(period, group, "cli")
            click.echo(f"ranking #{ranking.id} ({period}, {group}, revision {ranking.revision}) "
                       f"computed: {ranking.unit_count} units, {ranking.excluded_count} excluded")
            for row in await models.RankingRow.filter(ranking=ranking).order_by("position"):
                mark = {"top": " ▲", "bottom": " ▼"}.get(row.flag, "")
                click.echo(f"  {row.rank if row.rank is not None else '-':>4}  "
                           f"{row.total if row.total is not None else '-':>7}  "
                           f"{row.unit_code} {row.unit_name}{mark}")

        run(obj, body)

    @ranking_group.command("publish")
    @period_opt
    @group_opt
    @click.option("--confirm-missing", is_flag=True,
                  help="Publish although values are missing (they are named when refused).")
    @click.pass_obj
    def publish_cmd(obj: Ctx, period: str, group: str, confirm_missing: bool) -> None:
        """Publish the draft ranking (refused when already published, or while values are
        missing without --confirm-missing)."""
        from plugins.ranking.rankings import latest, publish

        async def body(settings):
            ranking = await latest(period, group)
            if ranking is None:
                fail(f"no ranking of group '{group}' for period '{period}': compute it first")
            ranking = await publish(ranking.id, "cli", settings, confirm_missing=confirm_missing)
            click.echo(f"ranking #{ranking.id} published ({ranking.status}"
                       f"{', objections until ' + str(ranking.objection_until) if ranking.objection_until else ''}); "
                       f"inputs sha256 {ranking.inputs_sha256}")

        run(obj, body)

    @ranking_group.command("verify")
    @period_opt
    @group_opt
    @click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON.")
    @click.pass_obj
    def verify_cmd(obj: Ctx, period: str, group: str, as_json: bool) -> None:
        """Recompute the published ranking: identical, or which inputs changed (exit 1)."""
        from plugins.ranking.rankings import latest, verify

        async def body(settings):
            ranking = await latest(period, group, published_only=True) or \
                await latest(period, group)
            if ranking is None:
                fail(f"no ranking of group '{group}' for period '{period}'")
            result = await verify(ranking.id)
            if as_json:
                click.echo(json.dumps(result, ensure_ascii=False, indent=2, default=str))
            if result["identical"]:
                click.echo(f"ranking #{ranking.id}: identical (inputs sha256 "
                           f"{result['inputs_sha256']})")
                return
            if not result["frozen_inputs_intact"]:
                click.echo(f"ranking #{ranking.id}: frozen inputs were altered: "
                           f"{result['tampered_inputs'][:10]}")
            if not result["reproduced"]:
                click.echo(f"ranking #{ranking.id}: stored results differ from a recomputation: "
                           f"{result['result_differences'][:10]}")
            for c in result["changed_inputs"]:
                click.echo(f"  changed: {c['unit_code']} {c.get('unit_name', '')} "
                           f"{c.get('name', c['indicator'])}: {c.get('frozen')} → "
                           f"{c.get('current')} ({c.get('source', c['change'])})")
            raise SystemExit(1)

        run(obj, body)

    @cli.group("reports")
    def reports_group() -> None:
        """Scheduled report subscriptions (定时报表)."""

    @reports_group.command("list")
    @click.pass_obj
    def reports_list(obj: Ctx) -> None:
        """List subscriptions with their rule and next firing."""
        from plugins.ranking import models
        from plugins.ranking.reports import _local
        from plugins.ranking.subscriptions import next_times

        async def body(settings):
            subs = await models.Subscription.all().order_by("key")
            if not subs:
                click.echo("no subscriptions")
            for s in subs:
                nxt = await next_times(s, 1) if s.active else []
                click.echo(f"{s.id}\t{s.key}\t{s.exporter}\t{s.group or '-'}\t{s.period_rule}\t"
                           f"{s.cron} [{s.calendar}]\t{'active' if s.active else 'off'}\t"
                           f"next: {_local(nxt[0]) if nxt else '-'}")

        run(obj, body)

    @reports_group.command("run")
    @click.argument("ident")
    @click.pass_obj
    def reports_run(obj: Ctx, ident: str) -> None:
        """Fire a subscription now (build, archive, queue the mail)."""
        from plugins.ranking import models
        from plugins.ranking.reports import run_now
        from plugins.ranking.subscriptions import get

        async def body(settings):
            sub = await get(ident)
            firing = await run_now(settings, sub)
            click.echo(f"{sub.key}: {firing.status} period {firing.period or '-'} "
                       f"reports {firing.report_ids} {firing.error}")
            for d in await models.Delivery.filter(firing=firing).order_by("id"):
                click.echo(f"  {d.recipient} <{d.address or '-'}> {d.state} {d.last_error}")
            if firing.status == "failed":
                raise SystemExit(1)

        run(obj, body)

    @reports_group.command("dry-run")
    @click.argument("ident")
    @click.pass_obj
    def reports_dry_run(obj: Ctx, ident: str) -> None:
        """Show who would get what, without building or sending anything."""
        from plugins.ranking.reports import dry_run
        from plugins.ranking.subscriptions import get

        async def body(settings):
            plan = await dry_run(await get(ident))
            click.echo(f"{plan['subscription']}: {plan['title']} · exporter {plan['exporter']} · "
                       f"period {plan['period'] or '-'} · next {', '.join(plan['next']) or '-'}")
            if plan["problem"]:
                click.echo(f"  problem: {plan['problem']}")
            for r in plan["recipients"]:
                click.echo(f"  {r['recipient']} <{r['address'] or '-'}>: "
                           f"{', '.join(r['files'])}{'  !! ' + r['problem'] if r['problem'] else ''}")

        run(obj, body)
