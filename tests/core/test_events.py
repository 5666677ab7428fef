"""The core event store: stored in the announcing transaction, each listener on its own,
retried with back-off, never twice to one listener, the job run telling of failures."""

from __future__ import annotations

import asyncio
import datetime as dt
import types

import pytest
from tortoise.transactions import in_transaction

from core import clock, events
from core.contrib import JobSpec
from core.events_models import EventDelivery, StoredEvent
from core.hookspecs import hookimpl
from core.scheduler import PlatformScheduler

pytestmark = pytest.mark.usefixtures("db")
LONG_AGO = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def listener(host, name: str, fail_times: int = 0, slow: float = 0.0) -> list:
    """Register a plugin `name` whose kaohe_event records each key; it raises `fail_times`
    times first, and awaits `slow` seconds inside each delivery."""
    heard: list = []
    left = {"n": fail_times}
    module = types.ModuleType(name)

    @hookimpl
    async def kaohe_event(event):
        if slow:
            await asyncio.sleep(slow)
        if left["n"]:
            left["n"] -= 1
            raise RuntimeError(f"{name} is down")
        heard.append(event.key)
        return {"took": event.key}

    module.kaohe_event = kaohe_event
    host.register(name, module)
    return heard


async def make_due() -> None:
    await EventDelivery.exclude(status="delivered").update(next_try=LONG_AGO)


async def test_stored_in_the_transaction_rolled_back_means_nothing_delivered(host):
    heard = listener(host, "probe_a")
    with pytest.raises(RuntimeError):
        async with in_transaction() as conn:
            await events.announce("probe.ping", "probe.ping:1", {"n": 1}, using_db=conn)
            raise RuntimeError("the change failed")
    assert await StoredEvent.all().count() == 0 and await EventDelivery.all().count() == 0
    await make_due()
    assert (await events.retry_due()).outcomes == [] and heard == []

    async with in_transaction() as conn:
        first = await events.announce("probe.ping", "probe.ping:1", {"n": 1}, using_db=conn)
        again = await events.announce("probe.ping", "probe.ping:1", {"n": 2}, using_db=conn)
    assert first is not None and again is None  # one occurrence, one event
    stored = await StoredEvent.get(id=first)
    assert (stored.source, stored.payload) == ("probe", {"n": 1})
    rows = await EventDelivery.filter(event_id=first).order_by("id")
    # Only plugins that take the name get a row: the built-in listeners declare theirs.
    assert {r.listener for r in rows} == set(events.listeners(name="probe.ping")) == {"probe_a"}
    assert {r.status for r in rows} == {"pending"}
    await events.deliver([first])
    assert heard == ["probe.ping:1"]
    row = await EventDelivery.get(event_id=first, listener="probe_a")
    assert (row.status, row.attempts, row.result) == ("delivered", 1, {"took": "probe.ping:1"})


async def test_bad_announcements_are_refused_with_the_reason(host):
    with pytest.raises(events.EventError, match="expected 'plugin.event'"):
        await events.announce("ping", "k", {})
    with pytest.raises(events.EventError, match="non-empty text"):
        await events.announce("probe.ping", " ", {})
    with pytest.raises(events.EventError, match="payload must be an object"):
        await events.announce("probe.ping", "probe.ping:1", [1])
    assert await StoredEvent.all().count() == 0


async def test_a_raising_listener_stops_no_other_and_is_retried_with_back_off(host):
    before = listener(host, "probe_before")
    flaky = listener(host, "probe_flaky", fail_times=2)
    after = listener(host, "probe_after")
    report = await events.publish(_event("probe.ping:7"))
    assert before == after == ["probe.ping:7"] and flaky == []
    [failed] = report.failed
    assert (failed.listener, failed.key) == ("probe_flaky", "probe.ping:7")
    row = await EventDelivery.get(listener="probe_flaky")
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error == "RuntimeError: probe_flaky is down"
    assert dt.timedelta(seconds=50) < row.next_try - clock.now() <= events.RETRY_BASE
    # Not due yet: the retry job leaves it.
    assert (await events.retry_due()).outcomes == []
    await make_due()
    await events.retry_due()  # fails again: the wait doubles
    await row.refresh_from_db()
    assert (row.status, row.attempts) == ("failed", 2)
    assert row.next_try - clock.now() > events.RETRY_BASE
    await make_due()
    report = await events.retry_due()
    assert [(o.listener, o.delivered) for o in report.outcomes] == [("probe_flaky", True)]
    await make_due()
    await events.retry_due()
    # Each listener took the key exactly once, across the three tries.
    assert before == flaky == after == ["probe.ping:7"]
    assert events.next_try(events.MAX_ATTEMPTS) is None
    assert events.next_try(30) is None and events.next_try(9) - clock.now() <= events.RETRY_CAP


async def test_the_listeners_writes_commit_with_its_delivery_only(host):
    """A listener's database writes roll back with its failure, so a retry finds nothing
    half-done; what it wrote before returning commits with the delivered mark."""
    from core.orgs import Period, ensure_period

    calls = {"n": 0}
    module = types.ModuleType("probe_writer")

    @hookimpl
    async def kaohe_event(event):
        calls["n"] += 1
        await ensure_period(f"209{calls['n']}")
        if calls["n"] == 1:
            raise RuntimeError("after writing")

    module.kaohe_event = kaohe_event
    host.register("probe_writer", module)
    await events.publish(_event("probe.ping:8"))
    assert not await Period.filter(code="2091").exists()
    await make_due()
    await events.retry_due()
    assert await Period.filter(code="2092").exists()
    assert (await EventDelivery.get(listener="probe_writer")).status == "delivered"


async def test_parallel_deliverers_never_deliver_one_key_twice(host):
    """Four deliverers (the announcer, the retry job on two instances, an admin's retry) at
    once over the same 40 events: each key reaches the listener once."""
    heard = listener(host, "probe_slow", slow=0.005)
    async with in_transaction() as conn:
        ids = await events.announce_many(
            "probe.ping", [(f"probe.ping:{i}", {"i": i}) for i in range(40)], using_db=conn)
    assert len(ids) == 40
    await make_due()
    reports = await asyncio.gather(events.deliver(ids), events.retry_due(), events.retry_due(),
                                   events.schedule_retry(listener="probe_slow"))
    assert sorted(heard) == sorted(f"probe.ping:{i}" for i in range(40))
    taken = [o.key for r in reports for o in r.outcomes if o.listener == "probe_slow"]
    assert sorted(taken) == sorted(heard)  # none reported twice either
    assert await EventDelivery.filter(listener="probe_slow", status="delivered").count() == 40


async def test_a_job_whose_deliveries_failed_is_recorded_failed(settings, host):
    listener(host, "probe_down", fail_times=1)
    heard = listener(host, "probe_up")

    async def announcing_job(ctx):
        async with in_transaction() as conn:
            stored = await events.announce("probe.ping", "probe.ping:job", {}, using_db=conn)
        await events.deliver([stored])
        return {"announced": 1}

    jobs = [JobSpec("core.probe_announce", announcing_job, "0 3 * * *")] + \
        events.core_jobs(settings)
    sched = PlatformScheduler(settings, host, instance="test:1", jobs=jobs)
    run = await sched.run_now("core.probe_announce")
    assert run.status == "failed" and run.changed == {"announced": 1}
    assert "probe_down ← probe.ping:job: RuntimeError: probe_down is down" in run.error
    assert heard == ["probe.ping:job"]
    await make_due()
    retry = await sched.run_now("core.events")
    assert retry.status == "ok" and retry.changed["delivered"] == 1
    assert await EventDelivery.exclude(status="delivered").count() == 0


async def test_a_listener_gets_rows_only_for_the_names_it_declares(host):
    from core.contrib import DomainEvent

    heard: list = []
    picky = types.SimpleNamespace(
        kaohe_event=_recording(heard),
        kaohe_event_names=hookimpl(lambda: ["probe.wanted", "other.*"]))
    host.register("probe_picky", picky)
    report = await events.publish(_event("probe.ping:9"))
    assert report.outcomes == [] and await EventDelivery.all().count() == 0
    for name, key in (("probe.wanted", "w:1"), ("other.thing", "o:1"), ("others.x", "x:1")):
        await events.publish(DomainEvent(name, key, {}, name.split(".")[0]))
    assert heard == ["w:1", "o:1"]  # 'other.*' is a prefix of names, not of words
    assert await EventDelivery.all().count() == 2


async def test_one_failing_event_in_a_batch_rolls_back_only_its_own_writes(host):
    """A listener's deliveries share a transaction with a savepoint per event: the event that
    fails leaves nothing behind, the ones before and after it commit."""
    from core.orgs import Period, ensure_period

    module = types.ModuleType("probe_batch")

    @hookimpl
    async def kaohe_event(event):
        await ensure_period(f"2{event.payload['i']:03d}")
        if event.payload["i"] == 5:
            raise RuntimeError("the fifth")

    module.kaohe_event = kaohe_event
    host.register("probe_batch", module)
    async with in_transaction() as conn:
        ids = await events.announce_many(
            "probe.ping", [(f"probe.ping:{i}", {"i": i}) for i in range(10)], using_db=conn)
    report = await events.deliver(ids)
    assert [o.key for o in report.failed] == ["probe.ping:5"]
    assert len(report.delivered) == 9
    codes = set(await Period.filter(code__startswith="20").values_list("code", flat=True))
    assert {f"2{i:03d}" for i in range(10) if i != 5} <= codes and "2005" not in codes
    row = await EventDelivery.get(event_id=ids[5])
    assert (row.status, row.attempts, row.last_error) == ("failed", 1,
                                                           "RuntimeError: the fifth")


def _recording(heard: list):
    @hookimpl
    async def kaohe_event(event):
        heard.append(event.key)

    return kaohe_event


def _event(key: str):
    from core.contrib import DomainEvent

    return DomainEvent("probe.ping", key, {"key": key}, "probe")
