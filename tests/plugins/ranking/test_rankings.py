"""Values, computing, publishing, replaying and objecting, on the real database."""

import datetime as dt
import types
from decimal import Decimal as D

import pytest

from core.errors import Conflict, Forbidden, Invalid
from core.hookspecs import hookimpl
from core.orgs import PeriodClosedError, ensure_period
from plugins.ranking import models, rankings
from plugins.ranking.values import missing_values
from tests.conftest import make_user
from tests.plugins.ranking.helpers import (
    STUB_VALUES,
    apply,
    definition,
    enter,
    scenario_values,
)


def listener(events: list):
    module = types.ModuleType("ranking_listener")

    @hookimpl
    def kaohe_event(event):
        events.append(event)

    module.kaohe_event = kaohe_event
    return module


async def ranked(ranking) -> dict[str, models.RankingRow]:
    return {r.unit_code: r for r in await models.RankingRow.filter(ranking=ranking)}


async def test_compute_scores_every_level_and_ranks(db, host):
    await apply(host)
    await enter("2014", "districts", scenario_values())
    ranking = await rankings.compute("2014", "districts", "test")
    rows = await ranked(ranking)
    # By hand (see helpers.SCENARIO): people = (sat + sec)/2, gov = (cases + rate)/2,
    # total = 0.6 people + 0.4 gov.
    assert rows["520102"].scores == {"sat": "100", "sec": "100", "cases": "100", "rate": "100"}
    assert rows["520103"].scores == {"sat": "90", "sec": "80", "cases": "50", "rate": "90"}
    assert rows["520111"].aspects == {"people": "80", "gov": "85"}
    assert rows["520112"].aspects == {"people": "87.5", "gov": "40"}
    assert {c: (r.rank, D(r.total), r.flag) for c, r in rows.items()} == {
        "520102": (1, D("100.00"), "top"), "520111": (2, D("82.00"), ""),
        "520103": (3, D("79.00"), ""), "520112": (4, D("68.50"), "bottom")}
    assert ranking.status == "draft" and ranking.definition_version == 1
    assert rows["520103"].inputs["rate"]["v"] == "90" and \
        rows["520103"].inputs["rate"]["s"] == "plugin:stub.rate"
    # A draft recomputes freely, in place.
    STUB_VALUES["520112"] = 100
    again = await rankings.compute("2014", "districts", "test")
    assert again.id == ranking.id and again.results_sha256 != ranking.results_sha256
    assert D((await ranked(again))["520112"].total) == D("72.50")


async def test_bad_values_are_refused_and_nothing_is_saved(db, host):
    await apply(host)
    bad = [
        ({("520102", "sat"): "abc"}, "values[1]: 群众满意度: 应为数字，实际为“abc”"),
        ({("520102", "sat"): 120}, "120 超出允许范围 0–100"),
        ({("520102", "cases"): "2.5"}, "应为整数（单位：件），实际为“2.5”"),
        ({("520102001", "sat"): 80}, "unit '520102001' is not in the peer group 'districts'"),
        ({("520102", "rate"): 80}, "comes from plugin:stub.rate and cannot be entered"),
        ({("520102", "nope"): 80}, "no indicator 'nope'"),
        ({("520102", "sat"): "1.23456"}, "1.23456 的小数超过 4 位"),
    ]
    for values, message in bad:
        with pytest.raises(Invalid) as info:
            await enter("2014", "districts", {("520103", "sat"): 70, **values})
        assert message in info.value.message, info.value.message
        assert info.value.details
    assert await models.IndicatorValue.all().count() == 0  # the good value went nowhere
    with pytest.raises(Invalid) as info:
        await enter("2014", "nogroup", {("520102", "sat"): 70})
    assert info.value.field == "group"


async def test_closed_period_is_read_only(db, host):
    await apply(host)
    await ensure_period("2012", status="closed")
    with pytest.raises(PeriodClosedError):
        await enter("2012", "districts", {("520102", "sat"): 70})


async def test_values_update_and_clear_with_audit(db, host):
    from core.audit import AuditEntry

    await apply(host)
    counts = await enter("2014", "districts", {("520102", "sat"): "83.87", ("520103", "sat"): 70})
    assert counts == {"created": 2, "updated": 0, "deleted": 0, "unchanged": 0}
    counts = await enter("2014", "districts", {("520102", "sat"): "83.870", ("520103", "sat"): None,
                                               ("520111", "sat"): 75})
    assert counts == {"created": 1, "updated": 0, "deleted": 1, "unchanged": 1}
    stored = {v.unit_code: D(v.value) for v in await models.IndicatorValue.all()}
    assert stored == {"520102": D("83.87"), "520111": D(75)}
    entry = await AuditEntry.filter(action="ranking.values.set").order_by("-id").first()
    assert entry.before == {"520103/sat": "70", "520111/sat": None}
    assert entry.after == {"520103/sat": None, "520111/sat": "75"}


async def test_missing_values_are_listed_and_both_policies_apply(db, host):
    await apply(host)
    values = scenario_values()
    del values[("520103", "sec")]
    STUB_VALUES["520111"] = None
    await enter("2014", "districts", values)
    found = await missing_values("2014", "districts")
    assert found["policy"] == "zero" and found["missing_values"] == 2
    assert {m["unit_code"]: [i["key"] for i in m["indicators"]] for m in found["missing"]} == {
        "520103": ["sec"], "520111": ["rate"]}
    ranking = await rankings.compute("2014", "districts", "test")
    rows = await ranked(ranking)
    assert rows["520103"].scores["sec"] == "0" and rows["520103"].aspects["people"] == "45"
    assert rows["520111"].scores["rate"] == "0" and rows["520111"].missing == ["rate"]
    assert ranking.excluded_count == 0

    await apply(host, definition(missing="exclude"))
    ranking = await rankings.compute("2014", "districts", "test")
    rows = await ranked(ranking)
    assert ranking.missing_policy == "exclude" and ranking.excluded_count == 2
    assert rows["520103"].excluded and rows["520103"].rank is None and rows["520103"].total is None
    assert (rows["520102"].rank, rows["520112"].rank) == (1, 2)
    # min–max over the ranked units only: cases 10 and 50 remain.
    assert rows["520112"].scores["cases"] == "0" and rows["520102"].scores["cases"] == "100"


async def test_publish_freezes_announces_and_replays_identical(db, host):
    events: list = []
    host.register("listener", listener(events))
    await apply(host)
    await enter("2014", "districts", scenario_values())
    ranking = await rankings.compute("2014", "districts", "test")
    published = await rankings.publish(ranking.id, "test")
    assert published.status == "final" and published.published_by == "test"
    [event] = [e for e in events if e.name == "ranking.published"]
    assert event.key == f"ranking.published:{ranking.id}" and event.source == "ranking"
    p = event.payload
    assert (p["ranking_id"], p["period"], p["group"], p["bottom_n"], p["top_n"]) == (
        ranking.id, "2014", "districts", 1, 1)
    assert p["bottom"] == [{"unit_code": "520112", "rank": 4, "total": 68.5}]
    assert [u["unit_code"] for u in p["units"]] == ["520102", "520111", "520103", "520112"]
    assert p["link"] == f"/ranking/rankings/{ranking.id}"
    dt.datetime.fromisoformat(p["published_at"])

    result = await rankings.verify(ranking.id)
    assert result["identical"], result
    assert result["changed_inputs"] == [] and result["reproduced"]


async def test_published_event_reaches_a_listener_that_failed_by_its_retry(db, host):
    """Before the store a listener failing at publication never heard of the ranking."""
    from core import events as store
    from core.events_models import EventDelivery

    heard: list = []
    down = {"now": True}
    module = types.ModuleType("ranking_flaky")

    @hookimpl
    def kaohe_event(event):
        if down["now"]:
            raise ConnectionError("mail relay down")
        heard.append(event.key)

    module.kaohe_event = kaohe_event
    host.register("ranking_flaky", module)
    await apply(host)
    await enter("2014", "districts", scenario_values())
    ranking = await rankings.compute("2014", "districts", "test")
    published = await rankings.publish(ranking.id, "test")
    assert published.status == "final"  # the publication stands
    row = await EventDelivery.get(listener="ranking_flaky").select_related("event")
    assert (row.event.key, row.status) == (f"ranking.published:{ranking.id}", "failed")
    assert "ConnectionError: mail relay down" in row.last_error
    down["now"] = False
    await EventDelivery.filter(id=row.id).update(next_try=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    await store.retry_due()
    assert heard == [f"ranking.published:{ranking.id}"]
    assert (await EventDelivery.get(id=row.id)).status == "delivered"
    await store.retry_due()
    assert heard == [f"ranking.published:{ranking.id}"]


async def test_publishing_twice_and_editing_published_are_refused(db, host):
    await apply(host)
    await enter("2014", "districts", scenario_values())
    ranking = await rankings.compute("2014", "districts", "test")
    await rankings.publish(ranking.id, "test")
    with pytest.raises(Conflict) as info:
        await rankings.publish(ranking.id, "test")
    assert info.value.code == "already_published" and "publishing twice" in info.value.message
    with pytest.raises(Conflict) as info:
        await enter("2014", "districts", {("520103", "sat"): 99})
    assert info.value.code == "ranking_published" and "520103" in info.value.message
    with pytest.raises(Conflict) as info:
        await rankings.compute("2014", "districts", "test")
    assert info.value.code == "ranking_published"
    assert D((await ranked(ranking))["520103"].inputs["sat"]["v"]) == D(72)
    assert D((await models.IndicatorValue.get(unit_code="520103", indicator="sat")).value) == 72


async def test_verify_shows_exactly_which_input_changed(db, host):
    await apply(host)
    await enter("2014", "districts", scenario_values())
    ranking = await rankings.compute("2014", "districts", "test")
    await rankings.publish(ranking.id, "test")
    STUB_VALUES["520103"] = 70  # the source plugin's data moved on after publishing
    result = await rankings.verify(ranking.id)
    assert not result["identical"] and result["frozen_inputs_intact"] and result["reproduced"]
    assert [(c["unit_code"], c["indicator"], c["frozen"], c["current"], c["source"])
            for c in result["changed_inputs"]] == [("520103", "rate", "90", "70",
                                                    "plugin:stub.rate")]
    # With today's inputs 520103 would drop: gov (50 + 70)/2 = 60, total 51 + 24 = 75.00.
    [moved] = [d for d in result["results_with_current_inputs"] if d["unit_code"] == "520103"]
    assert (moved["stored_total"], moved["total"]) == ("79", "75")


async def test_verify_detects_tampered_frozen_inputs_and_results(db, host):
    await apply(host)
    await enter("2014", "districts", scenario_values())
    ranking = await rankings.compute("2014", "districts", "test")
    await rankings.publish(ranking.id, "test")
    row = await models.RankingRow.get(ranking=ranking, unit_code="520112")
    row.total = D("99.00")
    await row.save()
    result = await rankings.verify(ranking.id)
    assert not result["reproduced"] and result["frozen_inputs_intact"]
    assert result["result_differences"][0]["unit_code"] == "520112"
    inputs = dict(row.inputs)
    inputs["sat"] = {**inputs["sat"], "v": "95"}
    await models.RankingRow.filter(id=row.id).update(inputs=inputs)
    result = await rankings.verify(ranking.id)
    assert not result["frozen_inputs_intact"]
    assert result["tampered_inputs"] == [{"unit_code": "520112", "indicator": "sat",
                                          "stored": "95"}]


async def test_publish_refuses_a_stale_draft(db, host):
    await apply(host)
    await enter("2014", "districts", scenario_values())
    ranking = await rankings.compute("2014", "districts", "test")
    STUB_VALUES["520102"] = 50
    with pytest.raises(Conflict) as info:
        await rankings.publish(ranking.id, "test")
    assert info.value.code == "inputs_changed"
    assert info.value.details[0]["unit_code"] == "520102"
    assert (await rankings.get_ranking(ranking.id)).status == "draft"


async def test_objection_window_objection_and_revision(db, host):
    from core.calendar import WorkCalendar

    await apply(host, definition(objection_days=5))
    officer = await make_user("nm_officer", "unit_officer", unit_code="520103")
    other = await make_user("hx_officer", "unit_officer", unit_code="520111")
    await enter("2014", "districts", scenario_values())
    ranking = await rankings.compute("2014", "districts", "test")
    ranking = await rankings.publish(ranking.id, "test")
    cal = await WorkCalendar.load()
    assert ranking.status == "objection"
    assert ranking.objection_until == cal.add_working_days(rankings.today(), 5)
    with pytest.raises(Forbidden) as info:
        await rankings.file_objection(ranking.id, other, "520103", "不对")
    assert info.value.code == "out_of_scope"
    with pytest.raises(Invalid):
        await rankings.file_objection(ranking.id, officer, "520103", "  ")
    obj = await rankings.file_objection(ranking.id, officer, "520103", "满意度调查样本有误", "sat")
    # Open objections hold the ranking in its window even after the window's last day.
    assert await rankings.finalize_due(ranking.objection_until + dt.timedelta(days=1)) == []
    obj = await rankings.resolve_objection(obj.id, "upheld", "复核后更正", "admin")
    assert obj.status == "upheld"
    with pytest.raises(Conflict):
        await rankings.resolve_objection(obj.id, "rejected", "again", "admin")
    before = await rankings.get_ranking(ranking.id)
    new = await rankings.revise(ranking.id, "异议采纳：更正满意度", "admin")
    old = await rankings.get_ranking(ranking.id)
    assert (old.status, old.superseded_by, new.status, new.revision) == (
        "superseded", new.id, "draft", 2)
    assert old.results_sha256 == before.results_sha256  # the published content is untouched
    await enter("2014", "districts", {("520103", "sat"): 80})  # editable again for the revision
    new = await rankings.compute("2014", "districts", "test")
    assert D((await ranked(new))["520103"].total) > D("79.00")
    assert (await rankings.verify(old.id))["reproduced"]


async def test_window_closes_to_final(db, host):
    await apply(host, definition(objection_days=3))
    await enter("2014", "districts", scenario_values())
    ranking = await rankings.publish((await rankings.compute("2014", "districts", "t")).id, "t")
    assert await rankings.finalize_due(ranking.objection_until) == []  # last day still open
    assert await rankings.finalize_due(ranking.objection_until + dt.timedelta(days=1)) == [
        ranking.id]
    officer = await make_user("o1", "unit_officer", unit_code="520102")
    with pytest.raises(Conflict) as info:
        await rankings.file_objection(ranking.id, officer, "520102", "late")
    assert info.value.code == "objection_closed"


async def test_change_against_the_previous_period(db, host):
    await apply(host)
    STUB_VALUES.clear()
    await enter("2013", "districts", {("520102", "sat"): 60, ("520103", "sat"): 80,
                                      ("520111", "sat"): 70, ("520112", "sat"): 50})
    earlier = await rankings.compute("2013", "districts", "t")
    await rankings.publish(earlier.id, "t", confirm_missing=True)  # only 满意度 was entered
    await enter("2014", "districts", scenario_values())
    ranking = await rankings.compute("2014", "districts", "t")
    rows = await ranked(ranking)
    assert ranking.previous_period == "2013"
    prev = {c: r.rank for c, r in (await ranked(earlier)).items()}
    assert prev == {"520103": 1, "520111": 2, "520102": 3, "520112": 4}
    assert {c: r.prev_rank for c, r in rows.items()} == prev
    assert rows["520102"].prev_total is not None


async def test_importer_entry_previews_and_confirms(db, host, settings):
    import io

    import openpyxl

    await apply(host)
    [importer] = [i for p, i in host.collect("kaohe_importers") if i.name == "ranking-values"]
    from core.import_flow import ImportContext

    ctx = ImportContext(user=await make_user("imp", "admin"), settings=settings,
                        filename="v.xlsx", fields={"period": "2014", "group": "districts"})
    wb = openpyxl.load_workbook(io.BytesIO(await importer.template(ctx)))
    ws = wb["指标数据"]
    header = [c.value for c in ws[3]]
    ws.cell(4, header.index("群众满意度") + 1).value = 2.675
    ws.cell(5, header.index("案件数") + 1).value = 3.5  # must be a whole number
    buf = io.BytesIO()
    wb.save(buf)
    preview = await importer.preview(buf.getvalue(), ctx)
    assert [(e.header, e.message) for e in preview.errors] == [
        ("案件数", "应为整数（单位：件），实际为“3.5”")]
    assert preview.errors[0].row == 5
    ws.cell(5, header.index("案件数") + 1).value = 3
    buf = io.BytesIO()
    wb.save(buf)
    preview = await importer.preview(buf.getvalue(), ctx)
    assert not preview.errors and len(preview.create) == 2
    counts = await importer.confirm(buf.getvalue(), ctx)
    assert counts["created"] == 2
    stored = {(v.unit_code, v.indicator): D(v.value) for v in await models.IndicatorValue.all()}
    assert stored == {("520102", "sat"): D("2.675"), ("520103", "cases"): D(3)}


async def test_a_failing_source_plugin_is_named(db, host):
    from core.errors import KaoheError

    await apply(host)
    await enter("2014", "districts", scenario_values())
    STUB_VALUES["520102"] = object()  # the stub returns it; Decimal() cannot read it
    ranking = await rankings.compute("2014", "districts", "t")
    assert (await ranked(ranking))["520102"].missing == ["rate"]  # unreadable counts as missing

    async def broken(period, units):
        raise RuntimeError("coverage table locked")

    from core.contrib import IndicatorSource

    module = types.ModuleType("broken_source")

    @hookimpl
    def kaohe_indicator_sources():
        return [IndicatorSource("stub.rate", "x", "%", broken)]

    module.kaohe_indicator_sources = kaohe_indicator_sources
    host.pm.unregister(name="stub")
    host.plugins.pop("stub", None)
    host.register("stub", module)
    with pytest.raises(KaoheError) as info:
        await rankings.compute("2014", "districts", "t")
    assert info.value.code == "source_failed" and "coverage table locked" in info.value.message
    assert "rate" in info.value.message
