"""The whole chain once, on a pinned 2014 clock: a rectification task goes overdue past each
threshold through the real morning scan, the accountability record is approved and carried
out rung by rung, and the deduction shows in the computed ranking of that period.

Only tests combine the plugins; they never import each other.
"""

import datetime as dt
from decimal import Decimal

import pytest

from core import assessments, clock, demo
from core.audit import acting_as
from core.calendar import WorkCalendar
from core.errors import Invalid
from core.orgs import Period
from plugins.accountability import services
from plugins.accountability.models import Record, RecordHistory
from plugins.ranking import models as ranking_models
from plugins.ranking import rankings
from plugins.rectification import common as rect_common
from plugins.rectification import scan as rect_scan
from plugins.rectification import workflow as rect_workflow
from tests.conftest import make_user

D = dt.date.fromisoformat


@pytest.fixture
async def guiyang(db, host):
    """The Guiyang 2014 definition, its periods open as in the year itself, the clock on
    2014-03-03; reset to the real clock afterwards."""
    clock.travel(D("2014-03-03"))
    try:
        with acting_as("test"):
            await assessments.apply(demo.DEFINITION.read_text(encoding="utf-8"), host,
                                    applied_by="test")
        await Period.filter(code__in=list(demo.CLOSE_ON)).update(status="open", closed_at=None)
        admin = await make_user("admin1", "admin")
        officer = await make_user("nm", "unit_officer", unit_code="520102")
        yield await rect_common.actor_for(admin), await rect_common.actor_for(officer)
    finally:
        clock.travel(None)


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=clock.tz())


async def test_overdue_task_to_deduction_in_the_ranking(guiyang):
    admin, officer = guiyang
    cal = await WorkCalendar.load()
    task = await rect_workflow.register(admin, {
        "period": "2014", "source": "grid", "category": "general", "severity": "urgent",
        "title": "背街小巷路灯不亮", "description": "群众反映", "unit": "520102",
        "responsible_person": "张伟"})
    assert task.number == f"ZG2014-{task.id:06d}"
    for action in ("assess", "dispatch"):
        task = await rect_workflow.act(task.id, action, admin, {"version": task.version})
    assert task.deadline == cal.add_working_days(D("2014-03-03"), 3)  # urgent: 3 working days

    first = None
    rungs = []  # (day, measure) of each proposal, approved and carried out days later
    day = D("2014-03-03")
    while day <= D("2014-05-30"):
        day += dt.timedelta(days=1)
        clock.travel(day)
        await rect_scan.overdue_scan(today=day)
        record = await Record.get_or_none(trigger_key=f"task:{task.id}")
        if record is None or not cal.is_workday(day):
            continue
        if record.status == "proposed":
            first = first if rungs else day
            rungs.append((cal.working_days_between(task.deadline, day), record.measure))
            await services.approve(record.id, note="同意")
        elif record.status == "approved":
            if record.measure == "remind":
                # Dated before its approval: refused, both dates named.
                approved_on = services.local_date(record.approved_at)
                early = approved_on - dt.timedelta(days=1)
                with pytest.raises(Invalid) as refused:
                    await services.carry_out(record.id, on=early)
                assert refused.value.message == (f"date: {early} is before the approval on "
                                                 f"{approved_on}")
            await services.carry_out(record.id, notes="已落实")

    # The ladder rose one rung at each threshold, by working days overdue.
    assert rungs == [(1, "remind"), (15, "interview"), (30, "circulate")]
    record = await Record.get(trigger_key=f"task:{task.id}")
    assert (record.status, record.measure, record.points) == ("carried_out", "circulate",
                                                              Decimal("2.00"))
    assert record.period == "2014" and D("2014-04-01") < record.carried_out_on < D("2014-06-01")
    history = [(h.action, h.to_measure) for h in
               await RecordHistory.filter(record=record).order_by("id")]
    assert history == [("proposed", "remind"), ("approved", "remind"), ("carried_out", "remind"),
                       ("upgraded", "interview"), ("approved", "interview"),
                       ("carried_out", "interview"), ("upgraded", "circulate"),
                       ("approved", "circulate"), ("carried_out", "circulate")]
    # Stamped on the pinned clock (the ORM's own created_at too), the day of the first scan.
    assert services.local_date(record.created_at) == first == \
        cal.add_working_days(task.deadline, 1)

    # The 2014 ranking of the districts carries the deduction for 南明区 only.
    clock.travel(D("2014-12-31"))
    ranking = await rankings.compute("2014", "districts", "test")
    rows = {r.unit_code: r for r in await ranking_models.RankingRow.filter(ranking=ranking)}
    nm, yy = rows["520102"], rows["520103"]
    assert nm.inputs["accountability_deduction"]["v"] == "2"
    assert yy.inputs["accountability_deduction"]["v"] == "0"
    assert Decimal(nm.scores["accountability_deduction"]) < Decimal(
        yy.scores["accountability_deduction"]) == Decimal(100)
    # So does the half-year in which the measures were carried out; not the year before.
    h1 = await rankings.compute("2014H1", "districts", "test")
    h1_nm = await ranking_models.RankingRow.get(ranking=h1, unit_code="520102")
    assert h1_nm.inputs["accountability_deduction"]["v"] == "2"
    y13 = await rankings.compute("2013", "districts", "test")
    assert (await ranking_models.RankingRow.get(ranking=y13, unit_code="520102")) \
        .inputs["accountability_deduction"]["v"] == "0"
