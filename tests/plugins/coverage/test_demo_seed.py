"""The whole demo reproduces the seed's city figures in the city-level coverage export.

Seed (000_a3ec4bcb99717cc7.txt): 全市7635个非公企业建立党组织2109个，1177个社会组织组建立党组织
521个，选派党建指导员5288名，打造36个非公和社会组织党建工作示范点，实现非公和社会组织党建工作全覆盖.
"""

import pytest

from core import demo
from core.contrib import ExportRequest
from core.exports import build_export
from plugins.coverage.demo import REPORT_PERIOD
from tests.plugins.coverage.helpers import grid

SEED = {
    "非公企业·组织数": 7635, "非公企业·党组织数": 2109,
    "社会组织·组织数": 1177, "社会组织·党组织数": 521,
    "合计·指导员": 5288, "合计·示范点": 36,
}


def _table(rows: list[list]) -> tuple[dict[str, int], list[list]]:
    """The header row (found by its first cell) as header → column, and the rows below it."""
    at = next(i for i, row in enumerate(rows) if row and row[0] == "单位")
    headers = {str(h): c for c, h in enumerate(rows[at]) if h not in (None, "")}
    return headers, rows[at + 1:]


@pytest.mark.once
async def test_demo_city_export_reproduces_the_seed(db, settings, host):
    await demo.build(settings, host, seed=2014)
    data = await build_export("coverage-stats", ExportRequest(period=REPORT_PERIOD, unit="520100"))
    headers, body = _table(grid(data))
    totals = [row for row in body if row and row[0] == "合计（贵阳市）"]
    assert len(totals) == 1, [row[0] for row in body]
    total = totals[0]
    got = {name: total[headers[name]] for name in SEED}
    assert got == SEED
    assert total[headers["合计·工作覆盖率"]] == 1.0  # 全覆盖
    # The total row adds up the kinds where figures add up, and counts party orgs once.
    assert total[headers["合计·组织数"]] == 7635 + 1177
    assert total[headers["合计·党组织数"]] == 2109 + 521  # the demo's joint ones stay in a kind
    # The ten districts add up to the city where figures add up.
    districts = [row for row in body if row and len(str(row[1])) == 6 and row[1] != "520100"]
    assert len(districts) == 10
    for name in ("非公企业·组织数", "社会组织·组织数", "合计·示范点"):
        assert sum(row[headers[name]] for row in districts) == total[headers[name]], name
    # A joint party org spanning two districts counts in each district and once in the city.
    spread = sum(row[headers["合计·党组织数"]] for row in districts)
    assert spread >= total[headers["合计·党组织数"]]
