"""Results per unit and up the tree, the margin of error, change, freezing, the indicator
sources and both workbooks read back."""

from __future__ import annotations

import datetime as dt
import io
import math

from python_calamine import CalamineWorkbook

from core import clock
from core.contrib import ExportRequest
from core.exports import build_export
from core.orgs import OrgUnit, Period
from plugins.satisfaction import indicators, jobs, services
from plugins.satisfaction.models import Response, Survey

N = 0


async def add(survey_key: str, unit_code: str, overall: int, safety: int = 1, n: int = 1,
              flags: str = "", address: str | None = "h" * 64) -> None:
    global N
    survey = await Survey.get(key=survey_key)
    unit = await OrgUnit.get(code=unit_code)
    rows = []
    for _ in range(n):
        N += 1
        rows.append(Response(survey=survey, unit=unit, received_at=clock.now(),
                             elapsed_seconds=60, nonce=f"{N:032d}", answers={"overall": overall,
                                                                            "safety": safety},
                             flags=flags, excluded=bool(flags), index_value=overall,
                             safety_value=safety, address_hash=address))
    await Response.bulk_create(rows)


async def scenario() -> None:
    # 2014: 花果园 8 satisfied, 1 basic, 1 dissatisfied (+2 flagged); 黔灵 1 basic, 1 dissatisfied
    await add("s2014", "520102001", 1, n=8)
    await add("s2014", "520102001", 2, safety=3)
    await add("s2014", "520102001", 3, safety=3)
    await add("s2014", "520102001", 3, n=2, flags="too_fast")
    await add("s2014", "520103001", 2)
    await add("s2014", "520103001", 3, safety=2)
    # 2013 (closed, not yet frozen): 花果园 1 of 2, 黔灵 2 of 2
    await add("s2013", "520102001", 1)
    await add("s2013", "520102001", 3)
    await add("s2013", "520103001", 2, n=2)


async def test_results_roll_up_the_tree(applied):
    await scenario()
    survey = await Survey.get(key="s2014")
    rows = {r["unit_code"]: r for r in await services.results_with_change(survey)}
    hgy, ql, nm, city = rows["520102001"], rows["520103001"], rows["520102"], rows["520100"]
    assert (hgy["responses"], hgy["valid"], hgy["index"]) == (12, 10, 90.0)
    assert hgy["moe"] == round(1.96 * math.sqrt(0.9 * 0.1 / 10) * 100, 2) == 18.59
    assert hgy["safety"] == 80.0 and hgy["quota"] == 4 and hgy["progress"] == 250.0
    assert (hgy["previous"], hgy["change"]) == (50.0, 40.0)
    assert (ql["valid"], ql["index"], ql["safety"]) == (2, 50.0, 100.0)
    assert nm["index"] == hgy["index"] and nm["level"] == "district"
    # The city pools the answers (10 of 12 valid), not the units' rates.
    assert (city["responses"], city["valid"], city["index"]) == (14, 12, round(1000 / 12, 2))
    assert city["quota"] == 8 and city["previous"] == 75.0 and city["change"] == 8.33
    assert "520102001" in [r["unit_code"] for r in await services.results_with_change(survey)]


async def test_a_closed_period_is_frozen_and_its_addresses_purged(applied, host):
    await scenario()
    assert services.state(await services.get_survey("s2013")) == "closed"
    result = await jobs.close_surveys(None)
    assert result == {"frozen": ["s2013"]}
    frozen = await Survey.get(key="s2013")
    assert frozen.frozen_at is not None and frozen.salt == ""
    assert not await Response.filter(survey=frozen).exclude(address_hash=None).exists()
    assert await Response.filter(survey__key="s2014").exclude(address_hash=None).count() == 14
    # A late write (say by hand in the database) does not move the frozen figures.
    await add("s2013", "520102001", 3, n=20)
    rows = await services.results(frozen)
    assert rows["520102001"]["index"] == 50.0 and rows["520102001"]["responses"] == 2
    assert (await jobs.close_surveys(None)) == {"frozen": []}
    # Re-applying the definition leaves a frozen survey as it is.
    from core import assessments
    from tests.plugins.satisfaction.helpers import DEFINITION

    await assessments.apply(DEFINITION.replace("2013-12-15", "2013-12-31"), host)
    assert (await Survey.get(key="s2013")).closes == dt.date(2013, 12, 15)


async def test_closing_the_period_closes_the_survey(applied):
    await Period.filter(code="2014").update(status="closed")
    assert services.state(await services.get_survey("s2014")) == "closed"
    assert [s.key for s in await services.due_for_closing()] == ["s2013", "s2014"]


async def test_indicator_sources_give_the_ranking_its_values(applied):
    await scenario()
    codes = ["520102", "520103", "520102001", "520100", "999999"]
    assert await indicators.rate("2014", codes) == {
        "520102": 90.0, "520103": 50.0, "520102001": 90.0, "520100": 83.33, "999999": None}
    assert (await indicators.safety("2014", ["520102"])) == {"520102": 80.0}
    assert await indicators.rate("2012", ["520102"]) == {"520102": None}


async def test_a_year_pools_its_half_year_surveys(db, host):
    from core import assessments
    from tests.plugins.satisfaction.helpers import DEFINITION

    text = (DEFINITION.replace('code = "2014"\n', 'code = "2014"\n\n[[periods]]\ncode = "2014H1"'
                               '\n\n[[periods]]\ncode = "2014H2"\n', 1)
            .replace('key = "s2013"', 'key = "h1"').replace('period = "2013"', 'period = "2014H1"')
            .replace("opens = 2013-11-01", "opens = 2014-05-01")
            .replace("closes = 2013-12-15", "closes = 2014-06-30")
            .replace('key = "s2014"', 'key = "h2"').replace('period = "2014"', 'period = "2014H2"')
            .replace('previous = "s2013"', 'previous = "h1"'))
    await assessments.apply(text, host)
    await add("h1", "520102001", 1, n=3)
    await add("h1", "520102001", 3)
    await add("h2", "520102001", 3, n=4)
    assert await indicators.rate("2014H1", ["520102"]) == {"520102": 75.0}
    assert await indicators.rate("2014", ["520102"]) == {"520102": 37.5}  # 3 of 8


async def test_workbooks_read_back(applied):
    await scenario()
    await add("s2014", "520103001", 1, flags="busy_address")
    data = await build_export("satisfaction-results", ExportRequest(period="2014"))
    rows = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name("s2014").to_python()
    header = rows[2]
    assert header[:6] == ["单位代码", "单位", "层级", "答卷数", "有效答卷", "满意度（%）"]
    body = {r[0]: r for r in rows[3:]}
    assert body["520102001"][3:6] == [12, 10, 90]
    assert body["520100"][1:3] == ["贵阳市", "市"] and body["520100"][11] == 8.33
    answers = await build_export("satisfaction-answers", ExportRequest(period="2014"))
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(answers)).get_sheet_by_name(
        "s2014").to_python()
    head = sheet[2]
    flagged = [r for r in sheet[3:] if r[head.index("标记")]]
    assert sorted(r[head.index("标记")] for r in flagged) == [
        "同一网络答卷过多", "答题过快", "答题过快"]
    assert {r[head.index("计入结果")] for r in flagged} == {"否"}
    assert "满意" in {r[head.index("您对社区工作满意吗？")] for r in sheet[3:]}
    assert len(sheet) - 3 == 15


async def test_the_results_page_and_api(app_client):
    from tests.conftest import login, make_user

    await make_user("s_admin", "admin")
    await make_user("s_leader", "leader")
    await scenario()
    await login(app_client, "s_leader")
    r = await app_client.get("/satisfaction/surveys/s2014")
    assert r.status_code == 200 and "90.00" in r.text and "±18.59" in r.text
    assert "采集中" in r.text and "status" not in r.text.split("<main>")[1].split("</main>")[0]
    r = await app_client.get("/satisfaction/surveys/s2014/posters")
    assert r.status_code == 403  # posters are for admins
    body = (await app_client.get("/api/satisfaction/surveys/s2014/results")).json()
    assert {u["unit_code"]: u["index"] for u in body["units"]}["520100"] == 83.33
    r = await app_client.get("/satisfaction/")
    assert r.status_code == 200 and "2014年测评" in r.text
    app_client.cookies.clear()
    await login(app_client, "s_admin")
    r = await app_client.get("/satisfaction/surveys/s2014/posters")
    assert r.status_code == 200
    assert r.text.count('class="poster"') == 2 and "<svg" in r.text and "黔灵社区" in r.text
    assert "http://127.0.0.1:8000/satisfaction/k/" in r.text
    png = await app_client.get("/satisfaction/surveys/s2014/qr/520103001")
    assert png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
