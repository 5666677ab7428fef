"""Datetime ranges give the same answers on SQLite (text) and PostgreSQL (timestamptz)."""

import datetime as dt

from core.scheduler_models import JobRun

SH = dt.timezone(dt.timedelta(hours=8))


async def test_ranges_are_right_whatever_offset_a_value_was_written_with(db):
    base = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
    # Written with three different offsets, in time order a < b < c.
    a = await JobRun.create(job_id="t", scheduled_for=base.astimezone(SH))
    b = await JobRun.create(job_id="t", scheduled_for=base + dt.timedelta(hours=1))
    c = await JobRun.create(job_id="t", scheduled_for=base.astimezone(SH) + dt.timedelta(hours=2))
    await JobRun.filter(id=b.id).update(scheduled_for=base + dt.timedelta(minutes=30))
    after = await JobRun.filter(scheduled_for__gt=base + dt.timedelta(minutes=10)).order_by(
        "scheduled_for").values_list("id", flat=True)
    assert after == [b.id, c.id]
    before = await JobRun.filter(scheduled_for__lt=(base + dt.timedelta(hours=1)).astimezone(SH)
                                 ).order_by("scheduled_for").values_list("id", flat=True)
    assert before == [a.id, b.id]
