"""Migration 0002 fills 党组织数 and 示范点 of periods frozen before it existed."""

from tortoise import Tortoise
from tortoise.migrations.executor import MigrationExecutor, MigrationTarget

from core import db as core_db
from core.orgs import OrgUnit
from plugins.coverage import stats
from tests.plugins.coverage.world import build_world


async def test_periods_frozen_before_0002_get_the_new_figures(db, settings, host):
    await build_world()
    expected = (await stats.figures_for("2014Q2", await OrgUnit.get(code="520100")))["total"]
    assert (expected.party_orgs, expected.demo_sites) == (6, 2)
    config = core_db.tortoise_config(settings, host)
    executor = MigrationExecutor(Tortoise.get_connection("default"), config["apps"])
    conn = Tortoise.get_connection("default")
    # Back to 0001: the frozen rows stay, the new column and table go.
    await executor.migrate([MigrationTarget("coverage", "0001_initial")])
    rows = await conn.execute_query_dict(
        "SELECT COUNT(*) AS n FROM coverage_period_fact WHERE period_code = '2014Q2'")
    assert rows[0]["n"] == 12
    await executor.migrate(None)
    again = (await stats.figures_for("2014Q2", await OrgUnit.get(code="520100")))["total"]
    assert again.as_dict() == expected.as_dict()
