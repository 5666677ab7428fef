"""The accountability part of the full demo: every state reached through the real services,
each step on its day of 2014."""

import datetime as dt
from collections import Counter

import pytest

from core import clock, demo
from core.audit import AuditEntry
from core.calendar import WorkCalendar
from plugins.accountability import appeals, jobs, services
from plugins.accountability.models import STATUSES, Appeal, Record, RecordHistory

OUTCOMES = ("pending", "upheld", "reduced", "withdrawn")


@pytest.mark.once
async def test_demo_takes_records_through_every_state(db, settings, host):
    ctx = await demo.build(settings, host, seed=2014)
    admin, officer = ctx.users["admin"], ctx.users["unit_officer"]
    records = await Record.all().order_by("id").select_related("unit")
    statuses = Counter(r.status for r in records)
    outcomes = Counter(await Appeal.all().values_list("status", flat=True))
    assert set(statuses) == set(STATUSES), statuses
    assert set(outcomes) == set(OUTCOMES), outcomes
    summary = ctx.summary["accountability"]
    assert summary["by_status"] == dict(statuses) and summary["appeals"] == dict(outcomes)

    # The earlier demo steps proposed records through the hook path; the demo did not insert them.
    automatic = [r for r in records if r.automatic]
    assert automatic and all(r.trigger_key for r in automatic)
    for r in automatic:
        first = await RecordHistory.filter(record_id=r.id).order_by("id").first()
        assert first.action == "proposed" and first.event_key, r.id

    # 移送纪检监察 only by hand, by the demo admin; it stands.
    refer = [r for r in records if r.measure == "refer"]
    assert refer and all(not r.automatic and r.trigger_type == "manual" and r.target == "head"
                         and r.approved_by == admin.username and r.reason for r in refer)

    cal = await WorkCalendar.load()
    window = (await services.current_ladder()).appeal_window_days
    for r in records:
        if r.status == "proposed":
            assert r.approved_at is None and r.automatic
        elif r.status == "dismissed":
            assert r.reason and r.approved_at is None
        else:
            assert r.approved_by == admin.username and r.approved_at is not None
        if r.status in ("carried_out", "closed"):
            # Carried out in 2014, days after the approval (the demo walked through the year).
            approved_on = services.local_date(r.approved_at)
            assert approved_on <= r.carried_out_on <= demo.END
            assert approved_on.year == 2014 and r.carried_out_on.year == 2014
            assert r.carried_out_by == admin.username and r.carried_out_notes
        assert services.local_date(r.created_at).year == 2014, r.id
    # The morning scans raised the ladder rung by rung: each overdue rung appears.
    rungs = {r.measure for r in records if r.trigger_type == "overdue"}
    assert {"remind", "interview", "circulate"} <= rungs, rungs
    days = [services.local_date(r.approved_at) for r in records if r.approved_at]
    assert min(days) < dt.date(2014, 4, 1) and max(days) > dt.date(2014, 11, 1)
    assert clock.today() == demo.END

    for appeal in await Appeal.all().order_by("id").select_related("record__unit", "submitted_by"):
        record, user = appeal.record, appeal.submitted_by
        assert user.role == "unit_officer" and appeal.evidence_sha256 and appeal.reasons
        assert record.unit.path.startswith((await user.unit).path)
        last = await appeals.deadline(record, window, cal)
        assert services.local_date(appeal.submitted_at) <= last
        if appeal.status == "pending":
            assert record.status in ("approved", "carried_out") and not appeal.decided_by
        else:
            assert appeal.decided_by == admin.username and appeal.decision_reason
        if appeal.status == "reduced":
            assert appeal.points_after < appeal.points_before == 2 * appeal.points_after
            assert record.points == appeal.points_after
        if appeal.status == "withdrawn":
            assert record.status == "withdrawn" and record.points == 0
    # A closed record's appeal window had passed when the daily job closed it; a pending
    # appeal keeps its record open.
    pending = set(await Appeal.filter(status="pending").values_list("record_id", flat=True))
    for r in records:
        if r.status == "closed":
            assert r.id not in pending
            assert services.local_date(r.closed_at) > await appeals.deadline(r, window, cal)
    assert any(r.status in ("approved", "carried_out") for r in records if r.id in pending)
    # The demo officer appealed in their own unit subtree and sees only standing measures.
    assert await Appeal.exists(submitted_by_id=officer.id)
    seen = await services.list_records(officer)
    # (an upgrade awaiting approval shows the officer the measure that stands, never the proposal)
    assert seen and all(r.status != "dismissed" and (r.status != "proposed" or r.prev_state)
                        for r in seen)

    # Every step is audited with its actor.
    audited = Counter(await AuditEntry.filter(action__startswith="accountability.",
                                              actor=admin.username).values_list("action", flat=True))
    approved = sum(1 for r in records if r.automatic and r.approved_at is not None)
    # Each rung is approved by itself: upgrades add approvals beyond one per record.
    approvals = await RecordHistory.filter(action="approved").count()
    assert audited["accountability.approve"] == approvals >= approved
    # (a dismissed record proposed again at a higher rung is no longer dismissed)
    dismissals = await RecordHistory.filter(action__in=("dismissed", "upgrade_dismissed")).count()
    assert audited["accountability.dismiss"] == dismissals >= statuses["dismissed"]
    closed_by_job = await AuditEntry.filter(action="accountability.close",
                                            actor="job:accountability.close_settled").count()
    closings = await RecordHistory.filter(action="closed").count()  # upgrades reopen some
    assert audited["accountability.close"] + closed_by_job == closings >= statuses["closed"]
    assert audited["accountability.appeal_decide"] == sum(n for o, n in outcomes.items()
                                                          if o != "pending")
    # The daily job already ran on the last day: running it again closes nothing.
    assert (await jobs.close_settled())["closed"] == []
