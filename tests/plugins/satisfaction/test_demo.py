"""The Guiyang demo's surveys: the seed's city figures exact, variation below them, the
ranking's 群众满意度 taken from the plugin, the open survey's complaints registered as tasks."""

from __future__ import annotations

import io
import random
import types

from python_calamine import CalamineWorkbook

from core import assessments, demo
from core.contrib import ExportRequest
from core.exports import build_export
from core.orgs import OrgUnit
from plugins.satisfaction import demo as sat_demo
from plugins.satisfaction import indicators, services
from plugins.satisfaction.models import Response, Survey


async def test_the_demo_surveys_hold_the_seed_figures(db, host):
    await assessments.apply(demo.DEFINITION.read_text("utf-8"), host, applied_by="demo")
    rng = random.Random(2014)
    city, districts, communities, _ = await demo.build_tree(rng)
    ctx = types.SimpleNamespace(rng=rng, districts=districts, progress=lambda label: None)
    summary = await sat_demo.build(ctx)  # the platform clock stands at 2014-11-20 here
    assert {k: v.get("frozen", False) for k, v in summary.items()} == {
        "guiyang-2012": True, "guiyang-2013": True, "guiyang-2014h1": True,
        "guiyang-2014h2": False}

    r2013 = await services.results(await Survey.get(key="guiyang-2013"))
    r2012 = await services.results(await Survey.get(key="guiyang-2012"))
    assert (r2013["520100"]["index"], r2013["520100"]["safety"]) == (83.87, 94.2)
    assert r2012["520100"]["index"] == 80.17
    assert r2013["520100"]["valid"] == 10000 < r2013["520100"]["responses"]  # flagged kept
    district_rates = [r2013[d.code]["index"] for d in districts]
    community_rates = [r2013[c.code]["index"] for c in communities]
    assert max(district_rates) - min(district_rates) > 3
    assert max(community_rates) - min(community_rates) > 10
    assert len(set(community_rates)) > 40

    # The export reads 83.87 for the city, +3.70 on 2012.
    data = await build_export("satisfaction-results", ExportRequest(period="2013"))
    rows = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()
    city_row = next(r for r in rows if r[0] == "520100")
    assert (city_row[5], city_row[7], city_row[10], city_row[11]) == (83.87, 94.2, 80.17, 3.7)

    # The ranking takes 群众满意度 and 安全感 from the plugin.
    from plugins.ranking import rankings
    from plugins.ranking.models import RankingRow

    assert (await indicators.rate("2013", ["520100"])) == {"520100": 83.87}
    ranking = await rankings.compute("2013", "districts", "test")
    inputs = {r.unit_code: r.inputs for r in await RankingRow.filter(ranking_id=ranking.id)}
    for d in districts:
        got = inputs[d.code]["public_satisfaction"]
        assert got["s"] == "plugin:satisfaction.rate"
        assert float(got["v"]) == r2013[d.code]["index"]
        assert float(inputs[d.code]["sense_of_security"]["v"]) == r2013[d.code]["safety"]

    # The open survey collects; its marked complaints are tasks at 信息收集.
    from plugins.rectification.models import Task

    open_rows = await Response.filter(survey__key="guiyang-2014h2").exclude(complaint="")
    assert open_rows and all(r.complaint_announced_at for r in open_rows)
    tasks = await Task.filter(source="survey")
    assert len(tasks) == len(open_rows) and {t.status for t in tasks} == {"registered"}
    assert await OrgUnit.filter(level="community").count() == 93
