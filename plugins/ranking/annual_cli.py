"""`kaohe year compute|publish|verify|adjust|reviewer|panel`: the assessment year from the shell."""

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

    @cli.group("year")
    def year_group() -> None:
        """年度考核: year results with grades, bonus entries, reviewers, panels."""

    group_opt = click.option("--group", required=True, help="Peer group key, e.g. districts.")

    @year_group.command("compute")
    @click.option("--year", required=True, help="The year's period code, e.g. 2014.")
    @group_opt
    @click.pass_obj
    def compute_cmd(obj: Ctx, year: str, group: str) -> None:
        """Compute (or recompute) the draft year result and print the grades."""
        from plugins.ranking import annual
        from plugins.ranking import annual_models as am

        async def body(settings):
            result = await annual.compute(year, group, "cli")
            click.echo(f"year result #{result.id} ({result.status})")
            for r in await am.AnnualRow.filter(result=result).order_by("position"):
                click.echo(f"  {r.rank or '-':>3} {r.unit_code} {r.unit_name} {r.score} "
                           f"{r.grade} ({r.rule})")

        run(obj, body)

    @year_group.command("publish")
    @click.argument("result_id", type=int)
    @click.pass_obj
    def publish_cmd(obj: Ctx, result_id: int) -> None:
        """Publish a draft year result (公示 opens)."""
        from plugins.ranking import annual

        async def body(settings):
            result = await annual.publish(result_id, "cli")
            click.echo(f"year result #{result.id}: {result.status}, objections until "
                       f"{result.objection_until or '-'}")

        run(obj, body)

    @year_group.command("verify")
    @click.argument("result_id", type=int)
    @click.pass_obj
    def verify_cmd(obj: Ctx, result_id: int) -> None:
        """Replay a year result from its frozen inputs; exit 1 when anything differs."""
        from plugins.ranking import annual

        async def body(settings):
            v = await annual.verify(result_id)
            click.echo(json.dumps(v, ensure_ascii=False, indent=2, default=str))
            if not v["identical"]:
                raise SystemExit(1)

        run(obj, body)

    @year_group.command("adjust")
    @click.option("--unit", required=True)
    @click.option("--item", required=True, help="Bonus or deduction item key.")
    @click.option("--points", required=True)
    @click.option("--evidence", required=True, help="What the points are for.")
    @click.pass_obj
    def adjust_cmd(obj: Ctx, unit: str, item: str, points: str, evidence: str) -> None:
        """Enter a bonus or deduction (加分/扣分) with its evidence."""
        from plugins.ranking import annual

        async def body(settings):
            entry = await annual.add_adjustment(unit, item, points, evidence, "cli")
            click.echo(f"entry #{entry.id}: {entry.unit_code} {entry.item} {entry.points}")

        run(obj, body)

    @year_group.command("reviewer")
    @click.option("--user", "username", required=True)
    @click.option("--department", required=True, help="The lead department, e.g. 市民政局.")
    @click.argument("indicators", nargs=-1, required=True)
    @click.pass_obj
    def reviewer_cmd(obj: Ctx, username: str, department: str, indicators: tuple[str, ...]) -> None:
        """Make an account the reviewer (审核) of self-assessed indicators."""
        from plugins.ranking import selfassess

        async def body(settings):
            rows = await selfassess.assign_reviewer(username, list(indicators), department, "cli")
            click.echo(f"{username} reviews {', '.join(r.indicator for r in rows)}")

        run(obj, body)

    @year_group.command("panel")
    @click.option("--panel", "panel_key", required=True, help="Panel key of the definition.")
    @group_opt
    @click.option("--rater", "raters", multiple=True, help="Account that rates (repeatable).")
    @click.option("--codes", default=0, help="One-time codes for outside raters.")
    @click.pass_obj
    def panel_cmd(obj: Ctx, panel_key: str, group: str, raters: tuple[str, ...],
                  codes: int) -> None:
        """Open a panel (民主测评); prints the one-time codes once (only their hashes are kept)."""
        from core.errors import Invalid
        from plugins.ranking import panel_rating
        from plugins.ranking.annual import current_annual
        from plugins.ranking.services import get_group

        async def body(settings):
            _, scheme, a = await current_annual()
            panel = a.panel(panel_key)
            if panel is None:
                raise Invalid("unknown_panel", f"panel: no panel '{panel_key}' in the definition",
                              field="panel")
            get_group(scheme, group)
            rnd, plain = await panel_rating.open_round(panel, a.year, group, list(raters), codes,
                                                       actor="cli")
            click.echo(f"panel #{rnd.id}: accounts rate at /ranking/panels/{rnd.id}, "
                       f"outside raters at /ranking/rate/{rnd.id}")
            for code in plain:
                click.echo(f"  {code}")

        run(obj, body)
