"""Events delivered through the core event store become proposals and upgrades."""

import asyncio
import datetime as dt
import logging
from decimal import Decimal

import pytest

from core.audit import AuditEntry
from core.contrib import DomainEvent
from core.errors import Conflict
from core.events_models import EventDelivery
from core.notify_models import InboxMessage
from plugins.accountability import services
from plugins.accountability.models import RankingSeen, Record, RecordHistory
from tests.conftest import make_user
from tests.plugins.accountability.helpers import (
    LADDER,
    YEAR,
    apply_definition,
    definition,
    failed,
    ours,
    overdue,
    publish,
    ranking,
)


@pytest.fixture
async def ready(db, host):
    await apply_definition(host)
    await make_user("officer", "unit_officer", unit_code="520102")
    await make_user("admin1", "admin")
    return host


async def counts() -> tuple[int, int, int, int]:
    return (await Record.all().count(), await RecordHistory.all().count(),
            await EventDelivery.filter(listener="accountability").count(),
            await AuditEntry.all().count())


async def test_overdue_task_is_proposed_once_and_upgraded_with_history(ready):
    first = ours(await publish(overdue(7, days=1, threshold=1)))
    assert first["status"] == "created" and len(first["records"]) == 1
    record = await Record.get(id=first["records"][0]).select_related("unit")
    assert (record.unit.code, record.measure, record.points, record.status) == (
        "520102", "remind", Decimal("0.50"), "proposed")
    assert (record.trigger_key, record.trigger_ref, record.trigger_link, record.responsible_person) == (
        "task:7", f"ZG-{record.period}-0007", "/rectification/tasks/7", "张三")

    second = ours(await publish(overdue(7, days=15, threshold=15)))
    third = ours(await publish(overdue(7, days=31, threshold=30)))
    assert (second["status"], third["status"]) == ("upgraded", "upgraded")
    assert second["records"] == third["records"] == [record.id]
    assert await Record.all().count() == 1
    await record.refresh_from_db()
    assert (record.measure, record.points, record.status, record.revision) == (
        "circulate", Decimal("2.00"), "proposed", 3)
    steps = await RecordHistory.filter(record=record).order_by("id")
    assert [(h.action, h.from_measure, h.to_measure) for h in steps] == [
        ("proposed", "", "remind"), ("upgraded", "remind", "interview"),
        ("upgraded", "interview", "circulate")]
    assert [h.event_key for h in steps] == [
        "rectification.overdue:7:1", "rectification.overdue:7:15", "rectification.overdue:7:30"]
    assert "accountability.rules[2]" in steps[2].note

    # Nothing reaches the unit before approval.
    officer = await services.User.get(username="officer")
    assert await services.list_records(officer) == []
    assert await InboxMessage.filter(user=officer).count() == 0


async def test_replayed_events_create_nothing_new(ready):
    events = [overdue(8, 1, 1), overdue(8, 15, 15), failed(8, 2), overdue(8, 30, 30),
              ranking(1, ["520103"], dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)),
              ranking(2, ["520103"], dt.datetime(2026, 2, 5, 9, tzinfo=dt.UTC))]
    first = [ours(await publish(e))["status"] for e in events]
    assert first == ["created", "upgraded", "upgraded", "unchanged", "no_rule", "created"]
    before = await counts()
    seen = await RankingSeen.all().count()
    for event in events:  # the store delivers a key once: replays reach no listener
        report = await publish(event)
        assert report.stored == [] and report.outcomes == []
    assert await counts() == before
    assert await RankingSeen.all().count() == seen
    # A new key for a rung already reached changes the record not at all.
    again = DomainEvent("rectification.overdue", "rectification.overdue:8:30:retry",
                        overdue(8, 31, 30).payload, "rectification")
    assert ours(await publish(again))["status"] == "unchanged"
    record = await Record.get(trigger_key="task:8")
    assert (record.measure, record.revision) == ("circulate", 3)


async def test_failed_verification_twice_circulates_the_same_record(ready):
    assert ours(await publish(overdue(9, 16, 15)))["status"] == "created"
    assert ours(await publish(failed(9, 1)))["status"] == "no_rule"
    result = ours(await publish(failed(9, 2)))
    assert result["status"] == "upgraded"
    record = await Record.get(trigger_key="task:9")
    assert (record.measure, record.trigger_type, record.trigger_detail["fail_count"]) == (
        "circulate", "verification_failed", 2)
    # Overdue 30 maps to circulate as well: not higher, so nothing changes.
    assert ours(await publish(overdue(9, 30, 30)))["status"] == "unchanged"
    assert await Record.all().count() == 1


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def plugin_log():
    handler = _Collect()
    logger = logging.getLogger("kaohe.accountability")
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)


async def test_unknown_unit_is_refused_and_changes_nothing(ready, plugin_log):
    before = await counts()
    result = ours(await publish(overdue(10, 3, 1, unit="999999")))
    assert result["status"] == "refused"
    assert "unknown org unit(s) 999999" in result["message"]
    assert any("rectification.overdue:10:1" in m and "999999" in m for m in plugin_log)
    bad_ranking = ranking(5, ["888888"], dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
                          units=("520102", "888888"))
    assert ours(await publish(bad_ranking))["status"] == "refused"
    records, history, deliveries, audit_entries = await counts()
    # Nothing of the plugin's own changed; the store keeps the two refusals as delivered.
    assert (records, history, audit_entries) == (before[0], before[1], before[3])
    assert deliveries == before[2] + 2
    assert await RankingSeen.all().count() == 0


@pytest.mark.parametrize("change, message", [
    ({"drop": "days_overdue"}, "payload: missing required field(s) days_overdue"),
    ({"drop": "unit_code"}, "payload: missing required field(s) unit_code"),
    ({"set": ("task_id", "12")}, "payload.task_id: expected int, got '12'"),
    ({"set": ("task_id", 0)}, "payload.task_id: expected a positive id"),
    ({"set": ("deadline", "05/01/2014")}, "payload.deadline: '05/01/2014' is not yyyy-mm-dd"),
    ({"set": ("threshold", True)}, "payload.threshold: expected int, got True"),
])
async def test_payloads_breaking_the_contract_are_refused(ready, change, message):
    event = overdue(11, 2, 1)
    if "drop" in change:
        del event.payload[change["drop"]]
    else:
        event.payload[change["set"][0]] = change["set"][1]
    result = ours(await publish(event))
    assert result["status"] == "refused" and result["message"].startswith(message), result
    assert await Record.all().count() == 0 and await RecordHistory.all().count() == 0


async def test_ranking_bottom_twice_running_interviews_the_head(ready):
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(days=200)
    r1 = ours(await publish(ranking(101, ["520103"], t0)))
    assert r1["status"] == "no_rule"  # once is not yet a streak
    r2 = ours(await publish(ranking(102, ["520103"], t0 + dt.timedelta(days=30))))
    assert r2["status"] == "created"
    record = await Record.get(id=r2["records"][0]).select_related("unit")
    assert (record.unit.code, record.measure, record.target, record.trigger_type) == (
        "520103", "interview", "head", "bottom_ranking")
    assert record.trigger_key == "bottom:district:520103:101"
    assert [r["ranking_id"] for r in record.trigger_detail["rankings"]] == [101, 102]
    # Its title, and the note of the proposal, read in the reader's language.
    from plugins.accountability.models import RecordHistory
    from plugins.accountability.notes import note_text

    group = record.trigger_detail["group_name"]
    assert note_text(record.trigger_title, "zh") == f"{group}：连续2次末位"
    assert note_text(record.trigger_title, "en") == f"{group}: bottom place 2 times in a row"
    step = await RecordHistory.filter(record_id=record.id).order_by("id").first()
    assert note_text(step.note, "zh").startswith("连续 2 次排位末位")
    assert note_text(step.note, "en").startswith("bottom place in 2 published rankings")
    # A third bottom place continues the same streak: same record, no higher rung.
    r3 = ours(await publish(ranking(103, ["520103"], t0 + dt.timedelta(days=60))))
    assert r3["status"] == "unchanged" and r3["records"] == [record.id]
    # 520102 at the bottom once: no record for it.
    assert ours(await publish(ranking(104, ["520102"], t0 + dt.timedelta(days=90))))[
        "status"] == "no_rule"
    assert await Record.all().count() == 1

    # The streak was broken; a new streak is a new trigger. The first record was approved
    # within the year, so the new one is one measure higher (repeat rule).
    await services.approve(record.id)
    await Record.filter(id=record.id).update(approved_at=t0 + dt.timedelta(days=95))
    ours(await publish(ranking(105, ["520103"], t0 + dt.timedelta(days=120))))
    r6 = ours(await publish(ranking(106, ["520103"], t0 + dt.timedelta(days=150))))
    assert r6["status"] == "created"
    second = await Record.get(id=r6["records"][0])
    assert second.trigger_key == "bottom:district:520103:105"
    assert (second.measure, second.points, second.repeat_of) == ("circulate", Decimal("2.00"),
                                                                 record.id)


async def test_repeat_within_a_year_raises_the_measure_but_never_to_refer(ready):
    await publish(overdue(20, 31, 30))
    first = await Record.get(trigger_key="task:20")
    await services.approve(first.id)
    result = ours(await publish(overdue(21, 31, 30)))
    second = await Record.get(id=result["records"][0])
    assert (second.measure, second.points, second.repeat_of) == ("admonish", Decimal("3.00"), first.id)
    await services.approve(second.id)
    third = await Record.get(id=ours(await publish(overdue(22, 40, 30)))["records"][0])
    assert third.measure == "admonish"  # one rung up at most, and refer stays manual
    # Older than the window: no repeat.
    await Record.filter(id__in=[first.id, second.id]).update(
        approved_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=400))
    fourth = await Record.get(id=ours(await publish(overdue(23, 2, 1)))["records"][0])
    assert (fourth.measure, fourth.repeat_of) == ("remind", None)


async def test_approve_twice_is_refused_and_dismissed_upgrade_restores(ready):
    host = ready
    await publish(overdue(30, 1, 1))
    record = await Record.get(trigger_key="task:30")
    await services.approve(record.id)
    with pytest.raises(Conflict) as caught:
        await services.approve(record.id)
    assert caught.value.status == 409
    assert "is approved: only a proposed record can be approved" in caught.value.message
    officer = await services.User.get(username="officer")
    assert await InboxMessage.filter(user=officer).count() == 1

    await services.carry_out(record.id, notes="电话提醒")
    await publish(overdue(30, 15, 15))
    await record.refresh_from_db()
    assert (record.status, record.measure, record.prev_state["measure"]) == (
        "proposed", "interview", "remind")
    # While the upgrade waits, the unit still sees the standing reminder, not the proposal,
    # and the reminder's deduction still counts.
    [seen] = await services.list_records(officer)
    assert services.record_out(seen, officer).measure == "remind"
    src = {s.key: s for p, s in host.collect("kaohe_indicator_sources") if p == "accountability"}
    assert await src["accountability.deduction_points"].values(str(YEAR), ["520102"]) == {
        "520102": 0.5}
    await services.dismiss(record.id, "已整改完毕，情有可原")
    await record.refresh_from_db()
    assert (record.status, record.measure, record.points, record.prev_state) == (
        "carried_out", "remind", Decimal("0.50"), None)
    assert record.carried_out_notes == "电话提醒"
    actions = [h.action for h in await RecordHistory.filter(record=record).order_by("id")]
    assert actions == ["proposed", "approved", "carried_out", "upgraded", "upgrade_dismissed"]


async def test_no_ladder_means_no_proposals(db, host):
    await apply_definition(host, definition(ladder=""))
    result = ours(await publish(overdue(40, 20, 15)))
    assert result["status"] == "no_rule"
    assert await Record.all().count() == 0
    assert LADDER  # the helpers' ladder is what other tests use


async def test_simultaneous_deliveries_make_one_record(ready):
    """The same key delivered twice at once, and two rungs of one task at once."""
    same = [overdue(50, 2, 1), overdue(50, 2, 1)]
    reports = await asyncio.gather(*(publish(e) for e in same))
    assert sorted(len(r.stored) for r in reports) == [0, 1]
    assert [ours(r)["status"] for r in reports if r.stored] == ["created"]
    results = [ours(r) for r in await asyncio.gather(
        publish(overdue(51, 15, 15)), publish(overdue(51, 31, 30)))]
    assert sorted(r["status"] for r in results) in (["created", "upgraded"],
                                                    ["created", "unchanged"])
    assert await Record.filter(trigger_key="task:51").count() == 1
    assert (await Record.get(trigger_key="task:51")).measure == "circulate"
    assert await EventDelivery.filter(listener="accountability", status="delivered").count() == 3
