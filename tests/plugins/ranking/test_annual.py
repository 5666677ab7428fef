"""The assessment year on the real database: year results from published rankings, panels,
bonus entries, accountability facts by indicator source, self-assessment and review."""

import datetime as dt
import types
from decimal import Decimal as D

import pytest

from core import clock
from core.errors import Conflict, Forbidden, Invalid
from core.hookspecs import hookimpl
from plugins.ranking import annual, models, panel_rating, rankings, selfassess
from plugins.ranking import annual_models as am
from tests.conftest import make_user
from tests.plugins.ranking.helpers import STUB_VALUES, apply, definition, enter, scenario_values

FACTS: dict[str, dict[str, float]] = {"circ": {}, "refer": {}}

YEAR = """
[[periods]]
code = "2014Q1"

[[periods]]
code = "2014Q2"

[ranking.annual]
year = "2014"
objection_days = 0
bonus_cap = 5
tie_break = ["component:year_end"]

[[ranking.annual.components]]
key = "regular"
name = "平时考核"
periods = ["2014Q1", "2014Q2"]
weight = 30

[[ranking.annual.components]]
key = "year_end"
name = "年终考核"
periods = ["2014"]
weight = 60

[[ranking.annual.components]]
key = "panel"
name = "民主测评"
panel = "deputies"
weight = 10

[[ranking.annual.panels]]
key = "deputies"
name = "代表委员测评"
scale = [0, 100]
trim = 1
min_raters = 3

[[ranking.annual.adjustments]]
key = "innovation"
name = "创新加分"
kind = "bonus"
cap = 3

[[ranking.annual.vetoes]]
key = "referred"
name = "移送纪检监察"
source = "plugin:facts.refer"

[[ranking.annual.rules]]
key = "criticized"
name = "通报批评不得评优"
source = "plugin:facts.circ"
max_grade = "good"

[[ranking.annual.grades]]
key = "excellent"
name = "优秀"
min = 90
quota = 25

[[ranking.annual.grades]]
key = "good"
name = "良好"
min = 80

[[ranking.annual.grades]]
key = "fair"
name = "一般"
min = 60

[[ranking.annual.grades]]
key = "poor"
name = "较差"

[ranking.annual.self_assessment]
indicators = ["sat", "sec"]
windows = [{ period = "2014Q1", opens = 2014-04-01, closes = 2014-04-15 }]
"""


def facts_plugin():
    from core.contrib import IndicatorSource

    def source(name):
        async def values(period, units):
            return {u: FACTS[name].get(u, 0) for u in units}
        return values

    module = types.ModuleType("annual_facts")

    @hookimpl
    def kaohe_indicator_sources():
        return [IndicatorSource("facts.circ", "通报批评次数", "次", source("circ")),
                IndicatorSource("facts.refer", "移送次数", "次", source("refer"))]

    module.kaohe_indicator_sources = kaohe_indicator_sources
    return module


async def setup(host):
    FACTS["circ"].clear()
    FACTS["refer"].clear()
    if "facts" not in host.plugins:
        host.register("facts", facts_plugin())
    await apply(host, definition(extra=YEAR))


async def publish_periods():
    for period in ("2014Q1", "2014Q2", "2014"):
        await enter(period, "districts", scenario_values())
        ranking = await rankings.compute(period, "districts", "test")
        await rankings.publish(ranking.id, "test")


async def panel(ballots):
    _, _, a = await annual.current_annual()
    spec = a.panel("deputies")
    names = [f"rater{n}" for n in range(len(ballots))]
    for name in names:
        await make_user(name, "leader")
    rnd, _ = await panel_rating.open_round(spec, "2014", "districts", names, actor="test")
    units = ["520102", "520103", "520111", "520112"]
    for name, scores in zip(names, ballots, strict=True):
        user = await models_user(name)
        await panel_rating.cast(rnd, spec, units, dict(zip(units, scores, strict=True)), user=user)
    return rnd, spec, units


async def models_user(name):
    from core.accounts import User

    return await User.get(username=name)


async def graded(result):
    return {r.unit_code: r for r in await am.AnnualRow.filter(result=result)}


async def test_year_result_by_hand_publish_and_verify(db, host):
    await setup(host)
    await publish_periods()
    # Period totals (test_rankings): 520102 100.00, 520111 82.00, 520103 79.00, 520112 68.50,
    # the same in every period. Panel, highest and lowest dropped: 520102 [90 95 99] → 95,
    # 520103 [70 75 100] → 75, 520111 [80 80 80] → 80, 520112 [50 60 70] → 60.
    await panel([(90, 70, 80, 50), (95, 75, 80, 60), (99, 100, 80, 70)])
    await annual.add_adjustment("520111", "innovation", "4", "经验在全市推广（市委办文件）", "test")
    result = await annual.compute("2014", "districts", "test")
    rows = await graded(result)
    # score = total × 0.9 + panel × 0.1 (+ bonus): 99.50; 73.8 + 8 + 3 (4 capped at 3) = 84.80;
    # 71.1 + 7.5 = 78.60; 61.65 + 6 = 67.65.
    assert {c: (D(r.score), r.grade, r.rule) for c, r in rows.items()} == {
        "520102": (D("99.50"), "excellent", "band"), "520111": (D("84.80"), "good", "band"),
        "520103": (D("78.60"), "fair", "band"), "520112": (D("67.65"), "fair", "band")}
    assert rows["520111"].bonus == D(3) and rows["520102"].components == {
        "regular": "100", "year_end": "100", "panel": "95"}
    assert rows["520102"].inputs["panel_n:deputies"]["v"] == "3"
    assert set(result.rankings) == {"2014Q1", "2014Q2", "2014"}
    published = await annual.publish(result.id, "test")
    assert published.status == "final"
    v = await annual.verify(result.id)
    assert v["identical"] and v["reproduced"] and v["frozen_inputs_intact"]
    with pytest.raises(Conflict, match="publishing twice"):
        await annual.publish(result.id, "test")
    with pytest.raises(Conflict, match="froze its inputs"):
        await annual.add_adjustment("520111", "innovation", "1", "再加", "test")
    # A fact changes after publishing: verify names the input, the stored result stays.
    FACTS["circ"]["520102"] = 1
    v = await annual.verify(result.id)
    assert not v["identical"] and v["reproduced"]
    assert [(c["unit_code"], c["input"], c["frozen"], c["current"]) for c in v["changed_inputs"]] \
        == [("520102", "rule:criticized", "0", "1")]
    # Tampering with a frozen input is caught.
    row = rows["520103"]
    row.inputs["period:2014"]["v"] = "99"
    await am.AnnualRow.filter(id=row.id).update(inputs=row.inputs)
    v = await annual.verify(result.id)
    assert not v["frozen_inputs_intact"] and v["tampered_inputs"][0]["input"] == "period:2014"


async def test_criticism_veto_and_quota_from_sources(db, host):
    await setup(host)
    await publish_periods()
    await panel([(95, 95, 95, 95)] * 3)
    FACTS["circ"]["520102"] = 1  # a 通报批评 in the year: cannot be 优秀
    FACTS["refer"]["520112"] = 1  # 移送纪检监察: 一票否决
    rows = await graded(await annual.compute("2014", "districts", "test"))
    # 520102: 90 + 9.5 = 99.50 → 优秀 by band, capped at 良好 by the rule.
    assert (rows["520102"].band, rows["520102"].grade, rows["520102"].rule) == \
        ("excellent", "good", "rule:criticized")
    assert (rows["520112"].grade, rows["520112"].rule) == ("poor", "veto:referred")


async def test_year_refused_without_published_period(db, host):
    await setup(host)
    await enter("2014Q1", "districts", scenario_values())
    with pytest.raises(Invalid, match="period 2014Q1 has no published ranking") as err:
        await annual.compute("2014", "districts", "test")
    assert err.value.field == "period"
    assert not await am.AnnualResult.exists()


async def test_adjustment_bad_input(db, host):
    await setup(host)
    for args, field in [(("520102", "nope", "1", "x"), "item"),
                        (("520102", "innovation", "-1", "x"), "points"),
                        (("520102", "innovation", "1.234", "x"), "points"),
                        (("520102", "innovation", "1", " "), "evidence"),
                        (("999999", "innovation", "1", "x"), "unit")]:
        with pytest.raises(Invalid) as err:
            await annual.add_adjustment(*args, actor="test")
        assert err.value.field == field
    assert not await am.Adjustment.exists()


async def test_panel_rater_twice_code_once_and_scale(db, host):
    await setup(host)
    _, _, a = await annual.current_annual()
    spec = a.panel("deputies")
    await make_user("deputy", "leader")
    user = await models_user("deputy")
    rnd, codes = await panel_rating.open_round(spec, "2014", "districts", ["deputy"], codes=2)
    units = ["520102", "520103"]
    with pytest.raises(Invalid, match="outside the scale 0–100") as err:
        await panel_rating.cast(rnd, spec, units, {"520102": 90, "520103": 101}, user=user)
    assert err.value.field == "scores" and not await am.Ballot.exists()
    await panel_rating.cast(rnd, spec, units, {"520102": 90, "520103": 80}, user=user)
    with pytest.raises(Conflict, match="already scored") as err:
        await panel_rating.cast(rnd, spec, units, {"520102": 10}, user=user)
    assert err.value.field == "rater"
    await panel_rating.cast(rnd, spec, units, {"520102": 70}, code=codes[0].lower())
    with pytest.raises(Conflict, match="already"):
        await panel_rating.cast(rnd, spec, units, {"520102": 75}, code=codes[0])
    with pytest.raises(Forbidden):
        await panel_rating.cast(rnd, spec, units, {"520102": 75}, code="AAAA-BBBB-CCCC")
    t = await panel_rating.tally(rnd, spec)
    # 2 ballots of 3 invited (1 account + 2 codes) = 66.67 %; 2 raters < 3: no mean
    assert (t["ballots"], t["invited"], t["response_rate"]) == (2, 3, D("66.67"))
    assert t["units"]["520102"] == (None, 2)


@pytest.fixture
def spring():
    clock.travel(dt.date(2014, 4, 10))
    yield
    clock.travel(None)


async def test_self_assessment_and_review(db, host, spring, settings):
    await setup(host)
    officer = await make_user("nm", "unit_officer", unit_code="520102")
    reviewer = await make_user("mzj", "unit_officer", unit_code="520103")
    await selfassess.assign_reviewer("mzj", ["sat"], "市民政局", actor="test")
    pdf = b"%PDF-1.4 evidence"
    sa = await selfassess.submit(officer, "2014Q1", "520102", "sat", "83.5", "入户调查 1,200 户",
                                 [("调查报告.pdf", pdf)], settings)
    value = await models.IndicatorValue.get(period="2014Q1", unit_code="520102", indicator="sat")
    assert (value.value, value.origin) == (D("83.5"), "self")
    assert sa.evidence[0]["name"] == "调查报告.pdf" and sa.evidence[0]["size"] == len(pdf)
    sec = await selfassess.submit(officer, "2014Q1", "520102", "sec", "91", "测评结果")
    # a reviewer outside their indicators
    with pytest.raises(Forbidden, match="you review sat, not 'sec'") as err:
        await selfassess.review(reviewer, sec.id, "change", "80", "偏高")
    assert err.value.field == "indicator"
    with pytest.raises(Invalid, match="needs a reason") as err:
        await selfassess.review(reviewer, sa.id, "change", "80", "")
    assert err.value.field == "reason"
    done = await selfassess.review(reviewer, sa.id, "change", "80", "抽样复核：有效问卷不足")
    assert (done.status, done.reviewed_value, done.review_reason) == (
        "changed", D("80"), "抽样复核：有效问卷不足")
    value = await models.IndicatorValue.get(period="2014Q1", unit_code="520102", indicator="sat")
    assert (value.value, value.origin, value.updated_by) == (D("80"), "reviewed", "mzj")
    with pytest.raises(Conflict, match="already reviewed"):
        await selfassess.submit(officer, "2014Q1", "520102", "sat", "85", "再报")
    assert selfassess.provenance(value.origin) == "reviewed"
    # Accepting keeps the value and still marks it reviewed.
    admin = await make_user("admin1", "admin")
    await selfassess.review(admin, sec.id, "accept")
    value = await models.IndicatorValue.get(period="2014Q1", unit_code="520102", indicator="sec")
    assert (value.value, value.origin, value.updated_by) == (D("91"), "reviewed", "admin1")
    status = await selfassess.status("2014Q1", "districts")
    states = {(r["unit_code"], r["indicator"]): r["state"] for r in status["rows"]}
    assert states[("520102", "sat")] == "changed" and states[("520102", "sec")] == "accepted"
    assert states[("520103", "sat")] == "missing"
    clock.travel(dt.date(2014, 4, 16))
    assert (await selfassess.status("2014Q1", "districts"))["rows"][2]["state"] == "late"


async def test_self_assessment_bad_input(db, host, spring):
    await setup(host)
    officer = await make_user("nm", "unit_officer", unit_code="520102")
    cases = [
        (("2014Q1", "520102", "cases", "3", "说明"), "indicator", "not marked self-assessed"),
        (("2014", "520102", "sat", "80", "说明"), "period", "no self-assessment window"),
        (("2014Q1", "520103", "sat", "80", "说明"), "unit", "only your own unit"),
        (("2014Q1", "520102", "sat", "abc", "说明"), "value", "应为数字"),
        (("2014Q1", "520102", "sat", "80", "  "), "explanation", "explain"),
    ]
    for args, field, text in cases:
        with pytest.raises((Invalid, Forbidden), match=text) as err:
            await selfassess.submit(officer, *args)
        assert err.value.field == field
    with pytest.raises(Invalid, match="not a pdf") as err:
        await selfassess.submit(officer, "2014Q1", "520102", "sat", "80", "说明",
                                [("x.pdf", b"MZ not a pdf")])
    clock.travel(dt.date(2014, 4, 16))
    with pytest.raises(Invalid, match="window of 2014Q1 is 2014-04-01 to 2014-04-15") as err:
        await selfassess.submit(officer, "2014Q1", "520102", "sat", "80", "说明")
    assert err.value.field == "period"
    assert not await am.SelfAssessment.exists()
    assert not await models.IndicatorValue.exists(indicator="sat")


async def test_definition_refuses_bad_year(db, host):
    from core.assessments import DefinitionError

    bad = YEAR.replace("weight = 60", "weight = 50").replace(
        'source = "plugin:facts.refer"', 'source = "no_such_indicator"').replace(
        "quota = 25", "quota = 120")
    if "facts" not in host.plugins:
        host.register("facts", facts_plugin())
    with pytest.raises(DefinitionError) as err:
        await apply(host, definition(extra=bad))
    text = "; ".join(err.value.errors)
    assert "ranking.annual.components: component weights add up to 90, not 100" in text
    assert "ranking.annual.vetoes[0].source: unknown indicator 'no_such_indicator'" in text
    assert "ranking.annual.grades[0].quota: 120 is outside 0–100 %" in text
    assert not await models.Scheme.exists()
    STUB_VALUES.clear()


async def test_year_workbooks_read_back(db, host, settings):
    """Both workbooks read back by a second reader: grades, rules, quota notes, provenance."""
    import io

    from python_calamine import CalamineWorkbook

    from core.contrib import ExportRequest
    from core.exports import build_export

    await setup(host)
    officer = await make_user("nm", "unit_officer", unit_code="520102")
    reviewer = await make_user("mzj", "unit_officer", unit_code="520103")
    await selfassess.assign_reviewer("mzj", ["sat"], "市民政局", actor="test")
    for period in ("2014Q1", "2014Q2", "2014"):
        await enter(period, "districts", scenario_values())
    clock.travel(dt.date(2014, 4, 10))
    try:
        sa = await selfassess.submit(officer, "2014Q1", "520102", "sat", "84", "入户调查")
        await selfassess.review(reviewer, sa.id, "change", "76", "有效问卷不足")
    finally:
        clock.travel(None)
    for period in ("2014Q1", "2014Q2", "2014"):
        ranking = await rankings.compute(period, "districts", "test")
        await rankings.publish(ranking.id, "test")
    await panel([(90, 70, 80, 50), (95, 75, 80, 60), (99, 100, 80, 70)])
    result = await annual.compute("2014", "districts", "test")
    await annual.publish(result.id, "test")
    request = ExportRequest(period="2014", group="districts")
    book = CalamineWorkbook.from_filelike(io.BytesIO(await build_export("ranking-annual", request)))
    assert book.sheet_names == ["汇总", "等次名单", "数据来源", "说明"]
    summary = book.get_sheet_by_name("汇总").to_python()
    header = summary[2]
    rows = {r[1]: dict(zip(header, r, strict=True)) for r in summary[3:] if r[1]}
    assert rows["南明区"]["等次"] == "优秀" and rows["南明区"]["决定等次的规则"] == "按分数段"
    assert rows["花溪区"]["等次"] == "良好"
    source = book.get_sheet_by_name("数据来源").to_python()
    line = next(r for r in source if r[:3] == ["2014Q1", "南明区", "群众满意度"])
    assert line[3:] == [76.0, "牵头部门审核", 84.0, "mzj", "有效问卷不足"]
    notes = dict((r[0], r[1]) for r in book.get_sheet_by_name("说明").to_python() if r[0])
    assert notes["结果 SHA-256"] == result.results_sha256 and notes["名额取整"] == "向下取整"
    grades = CalamineWorkbook.from_filelike(io.BytesIO(
        await build_export("ranking-annual-grades", request))).get_sheet_by_name("等次名单")
    listed = grades.to_python()
    first = next(n for n, r in enumerate(listed) if r[0] == "等次") + 1
    assert listed[first][:3] == ["优秀", 1.0, "南明区"]
