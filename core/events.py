"""The event store: domain events stored with the change that caused them, delivered to each
listening plugin on its own, retried with back-off, never delivered twice to one listener.

A plugin announces inside its own transaction (`announce`, or `announce_many` for a
set-based batch); the event and one delivery row per plugin that takes its name
(`kaohe_event_names`) commit or roll back with the change. After the commit the announcer
calls `deliver(ids)`. A listener's deliveries run in batches, one transaction each: the rows
are claimed (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so a second deliverer passes them by;
SQLite: writers are serialized), each event runs in a savepoint, and its row is marked in the
same transaction, so the listener's writes and the mark commit together or not at all. An
event whose listener raises (or overruns the time limit) rolls back to its savepoint: its row
records the error and the next try, the rest of the batch goes on, and the `core.events` job
retries it. A scheduled job whose deliveries failed is recorded as failed (see `watching`).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import inspect
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from tortoise import Tortoise
from tortoise.transactions import in_transaction

from core import audit, clock
from core.contrib import DomainEvent, JobSpec
from core.events_models import EventDelivery, StoredEvent
from core.sql import Sql

log = logging.getLogger("kaohe.events")

RETRY_TRIGGER = "* * * * *"
DELIVERY_FAILED = "event delivery failed "  # how a job's run says it (core.jobs_routes reads it)
# The announcer delivers its own events at once; the retry job takes a pending row only
# after this, so the two rarely meet (when they do, the claim lets one of them through).
PENDING_GRACE = dt.timedelta(seconds=60)
RETRY_BASE = dt.timedelta(minutes=1)  # doubled after each failure ...
RETRY_CAP = dt.timedelta(hours=6)  # ... up to this
MAX_ATTEMPTS = 10  # then only an admin's retry (page or `kaohe events retry`)
LISTENER_TIMEOUT = 120.0  # seconds; a listener holds a transaction while it runs
BATCH = 500


class EventError(ValueError):
    """An announcement breaks the contract (name, key or payload)."""


# -- announcing --------------------------------------------------------------------------

def listeners(host: Any = None, name: str | None = None) -> list[str]:
    """The plugins implementing kaohe_event, in registration order; with `name`, only those
    that take an event of that name (see `takes`)."""
    from core.plugins import get_host

    host = host or get_host()
    every = [impl.plugin_name for impl in reversed(host.pm.hook.kaohe_event.get_hookimpls())]
    if name is None:
        return every
    wanted = takes(host)
    return [p for p in every if _matches(wanted.get(p), name)]


def takes(host: Any) -> dict[str, tuple[str, ...]]:
    """Per plugin, the event names it declared with kaohe_event_names (absent: every event)."""
    out: dict[str, tuple[str, ...]] = {}
    for impl in host.pm.hook.kaohe_event_names.get_hookimpls():
        names = impl.function() or ()
        if isinstance(names, str) or not all(isinstance(n, str) for n in names):
            raise EventError(f"plugin {impl.plugin_name}: kaohe_event_names must return a list "
                             f"of event names")
        out[impl.plugin_name] = tuple(names)
    return out


def _matches(names: tuple[str, ...] | None, name: str) -> bool:
    if names is None:
        return True
    return any(n == name or (n.endswith(".*") and name.startswith(n[:-1])) for n in names)


def _source(name: str) -> str:
    source, dot, rest = (name or "").partition(".")
    if not (source and dot and rest) or len(name) > 100:
        raise EventError(f"event name '{name}': expected 'plugin.event' (at most 100 characters)")
    return source


def _json(key: str, payload: Any) -> str:
    if not isinstance(key, str) or not key.strip() or len(key) > 200:
        raise EventError(f"event key {key!r}: expected a non-empty text of at most 200 characters")
    if not isinstance(payload, dict):
        raise EventError(f"event {key}: payload must be an object")
    try:
        return orjson.dumps(payload, default=str).decode()
    except TypeError as exc:
        raise EventError(f"event {key}: payload is not JSON: {exc}") from None


async def announce(name: str, key: str, payload: dict[str, Any], *, using_db: Any = None,
                   occurred_at: dt.datetime | None = None) -> int | None:
    """Store one event in the caller's transaction; its id, or None when the key is stored
    already (announcing an occurrence twice delivers it once)."""
    ids = await announce_many(name, [(key, payload)], using_db=using_db, occurred_at=occurred_at)
    return ids[0] if ids else None


async def announce_many(name: str, items: Iterable[tuple[str, dict[str, Any]]], *,
                        using_db: Any = None, occurred_at: dt.datetime | None = None,
                        host: Any = None) -> list[int]:
    """Store a batch of events of one name, set-based (one or a few statements whatever the
    size), with a pending delivery per listener; returns the new events' ids."""
    source = _source(name)
    rows = [(key, _json(key, payload)) for key, payload in items]
    if not rows:
        return []
    at = occurred_at or clock.now()
    names = listeners(host, name)  # no delivery rows for plugins that do not take it
    conn = using_db or Tortoise.get_connection("default")
    async with conn._in_transaction() as tx:  # a savepoint inside the caller's transaction
        if Sql(tx).pg:
            return await _insert_pg(tx, name, source, rows, at, names)
        return await _insert_sqlite(tx, name, source, rows, at, names)


async def _insert_pg(conn: Any, name: str, source: str, rows: list[tuple[str, str]],
                     at: dt.datetime, names: list[str]) -> list[int]:
    # One statement: arrays in, the events' ids out, the deliveries made from them.
    _, found = await conn.execute_query(
        "WITH ins AS (INSERT INTO core_event (key, name, source, payload, occurred_at) "
        "SELECT k, $2, $3, p::jsonb, $4 FROM unnest($1::text[], $5::text[]) AS t(k, p) "
        "ON CONFLICT (key) DO NOTHING RETURNING id), "
        "d AS (INSERT INTO core_event_delivery (event_id, listener, status, attempts, next_try, "
        "last_error) SELECT ins.id, l, 'pending', 0, $6, '' FROM ins "
        "CROSS JOIN unnest($7::text[]) AS l ON CONFLICT (event_id, listener) DO NOTHING) "
        "SELECT id FROM ins ORDER BY id",
        [[k for k, _ in rows], name, source, at, [p for _, p in rows], at + PENDING_GRACE, names])
    return [r["id"] for r in found]


async def _insert_sqlite(conn: Any, name: str, source: str, rows: list[tuple[str, str]],
                         at: dt.datetime, names: list[str]) -> list[int]:
    # Writers are serialized on SQLite: every id above the current maximum is this batch's.
    _, top = await conn.execute_query("SELECT COALESCE(MAX(id), 0) AS m FROM core_event")
    before = top[0]["m"]
    await conn.execute_many(
        "INSERT INTO core_event (key, name, source, payload, occurred_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (key) DO NOTHING", [[k, name, source, p, at] for k, p in rows])
    if names:
        pick = " UNION ALL ".join("SELECT ? AS l" for _ in names)
        await conn.execute_query(
            f"INSERT INTO core_event_delivery (event_id, listener, status, attempts, next_try, "
            f"last_error) SELECT e.id, n.l, 'pending', 0, ?, '' FROM core_event e, ({pick}) n "
            f"WHERE e.id > ? ON CONFLICT (event_id, listener) DO NOTHING",
            [at + PENDING_GRACE, *names, before])
    _, found = await conn.execute_query("SELECT id FROM core_event WHERE id > ? ORDER BY id",
                                        [before])
    return [r["id"] for r in found]


# -- delivering --------------------------------------------------------------------------

@dataclass
class Outcome:
    listener: str
    key: str
    name: str
    delivered: bool
    result: Any = None
    error: str = ""


@dataclass
class DeliveryReport:
    """What one call delivered: per (event, listener), delivered with the listener's result
    or failed with its error."""

    stored: list[int] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def delivered(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.delivered]

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.delivered]

    def result_of(self, listener: str, key: str | None = None) -> Any:
        for o in self.outcomes:
            if o.listener == listener and o.delivered and key in (None, o.key):
                return o.result
        return None

    def summary(self, limit: int = 20) -> dict[str, Any]:
        return {"delivered": len(self.delivered), "failed": len(self.failed),
                "failures": [{"listener": o.listener, "key": o.key, "error": o.error[:300]}
                             for o in self.failed[:limit]]}

    def failure_text(self, limit: int = 5) -> str:
        shown = "; ".join(f"{o.listener} ← {o.key}: {o.error[:200]}" for o in self.failed[:limit])
        more = f"; … {len(self.failed) - limit} more" if len(self.failed) > limit else ""
        return (f"{DELIVERY_FAILED}for {len(self.failed)} of {len(self.outcomes)} "
                f"(retried by the core.events job): {shown}{more}")


_watch: contextvars.ContextVar[DeliveryReport | None] = contextvars.ContextVar(
    "kaohe_event_watch", default=None)


@contextlib.contextmanager
def watching() -> Iterator[DeliveryReport]:
    """Collect every delivery made inside the block (the scheduler wraps each job run)."""
    report = DeliveryReport()
    token = _watch.set(report)
    try:
        yield report
    finally:
        _watch.reset(token)


async def deliver(event_ids: Iterable[int] | None = None, *, host: Any = None,
                  due_only: bool = False) -> DeliveryReport:
    """Deliver the pending deliveries of these events (after the announcing commit), or,
    with `due_only`, every pending or failed delivery whose next try has come."""
    from core.plugins import get_host

    host = host or get_host()
    impls = {impl.plugin_name: impl for impl in host.pm.hook.kaohe_event.get_hookimpls()}
    report = DeliveryReport()
    if not impls:
        return _noted(report)
    ids = None if event_ids is None else sorted(set(event_ids))
    order = {name: i for i, name in enumerate(listeners(host))}
    # Chunks of ids: a first scan of a large backlog announces more events than a statement
    # may carry parameters.
    for chunk in ([None] if ids is None else [ids[i:i + BATCH] for i in range(0, len(ids), BATCH)]):
        last = 0
        while True:
            qs = EventDelivery.filter(id__gt=last, listener__in=list(impls))
            if due_only:
                qs = qs.filter(status__in=("pending", "failed"), next_try__lte=clock.now())
            else:
                qs = qs.filter(status="pending")
            if chunk is not None:
                qs = qs.filter(event_id__in=chunk)
            rows = await qs.order_by("id").limit(BATCH).select_related("event")
            if not rows:
                break
            last = rows[-1].id
            # One transaction per listener and batch, a savepoint per event: a failing event
            # rolls back its own writes only, and the batch costs one commit, not one each.
            by_listener: dict[str, list[EventDelivery]] = {}
            for row in rows:
                by_listener.setdefault(row.listener, []).append(row)
            for listener in sorted(by_listener, key=lambda n: order.get(n, 0)):
                batch = sorted(by_listener[listener], key=lambda r: r.event_id)
                report.outcomes.extend(await _deliver_batch(batch, impls[listener]))
    return _noted(report)


def _noted(report: DeliveryReport) -> DeliveryReport:
    watched = _watch.get()
    if watched is not None and watched is not report:
        watched.outcomes.extend(report.outcomes)
    return report


def _event(row: StoredEvent) -> DomainEvent:
    return DomainEvent(name=row.name, key=row.key, payload=row.payload, source=row.source,
                       occurred_at=row.occurred_at)


async def _deliver_batch(rows: list[EventDelivery], impl: Any) -> list[Outcome]:
    outcomes: list[Outcome] = []
    async with in_transaction() as conn:
        claimed = await _claim(conn, [r.id for r in rows])
        for row in rows:
            if row.id not in claimed:  # delivered meanwhile, or another deliverer holds it
                continue
            event = _event(row.event)
            attempts = claimed[row.id] + 1
            try:
                async with conn._in_transaction():  # a savepoint
                    result = impl.function(event=event)
                    if inspect.isawaitable(result):
                        result = await asyncio.wait_for(result, LISTENER_TIMEOUT)
                    stored = _storable(result)
            except Exception as exc:  # one event's failure never reaches the others
                error = f"{type(exc).__name__}: {exc}"[:2000]
                log.exception("event %s to plugin %s failed (attempt %d)", event.key,
                              row.listener, attempts)
                await EventDelivery.filter(id=row.id).using_db(conn).update(
                    status="failed", attempts=attempts, last_error=error,
                    next_try=next_try(attempts))
                outcomes.append(Outcome(row.listener, event.key, event.name, False, error=error))
                continue
            await EventDelivery.filter(id=row.id).using_db(conn).update(
                status="delivered", attempts=attempts, delivered_at=clock.now(), result=stored,
                last_error="", next_try=None)
            outcomes.append(Outcome(row.listener, event.key, event.name, True, result=stored))
    return outcomes


async def _claim(conn: Any, delivery_ids: list[int]) -> dict[int, int]:
    """The attempts so far of those rows still to deliver, locked for this transaction; a
    row delivered or held by another deliverer is left out."""
    if Sql(conn).pg:
        _, rows = await conn.execute_query(
            "SELECT id, attempts FROM core_event_delivery WHERE id = ANY($1::bigint[]) "
            "AND status <> 'delivered' FOR UPDATE SKIP LOCKED", [delivery_ids])
    else:  # a write takes SQLite's lock for the transaction; the status is read under it
        marks = ", ".join("?" for _ in delivery_ids)
        _, rows = await conn.execute_query(
            f"UPDATE core_event_delivery SET attempts = attempts WHERE id IN ({marks}) "
            f"AND status <> 'delivered' RETURNING id, attempts", delivery_ids)
    return {r["id"]: r["attempts"] for r in rows}


def _storable(result: Any) -> Any:
    """What a listener returned, as JSON: a model as its type and id; a bare string wrapped
    (Tortoise takes a str given to a JSON column as already encoded JSON)."""
    if result is None:
        return None
    if hasattr(result, "_meta") and hasattr(result, "pk"):  # a Tortoise model
        return {"model": type(result).__name__, "id": result.pk}
    try:
        value = audit.canonical(result)
    except (TypeError, ValueError):
        return {"repr": repr(result)[:1000]}
    return {"text": value} if isinstance(value, str) else value


def next_try(attempts: int, now: dt.datetime | None = None) -> dt.datetime | None:
    """Back-off after `attempts` failures; None once the attempts are used up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    delay = min(RETRY_BASE * 2 ** (attempts - 1), RETRY_CAP)
    return (now or clock.now()) + delay


async def publish(event: DomainEvent, host: Any = None) -> DeliveryReport:
    """Store an event in a transaction of its own and deliver it now (tests, tools)."""
    async with in_transaction() as conn:
        stored = await announce(event.name, event.key, event.payload, using_db=conn,
                                occurred_at=event.occurred_at)
    report = await deliver([stored] if stored else [], host=host)
    report.stored = [stored] if stored else []
    return report


# -- retries and the admins' view -----------------------------------------------------------

async def retry_due(host: Any = None) -> DeliveryReport:
    return await deliver(None, host=host, due_only=True)


async def _retry_job(ctx: Any) -> dict[str, Any]:
    return (await retry_due(ctx.host)).summary()


def core_jobs(settings: Any) -> list[JobSpec]:
    return [JobSpec("core.events", _retry_job, RETRY_TRIGGER,
                    "重试投递失败的领域事件（按退避时间）")]


def undelivered(status: str | None = None, listener: str | None = None):
    """Deliveries not taken yet: failed ones, and pending ones past the grace time."""
    from tortoise.expressions import Q

    qs = EventDelivery.filter(Q(status="failed") | Q(status="pending",
                                                      next_try__lte=clock.now()))
    if status:
        qs = EventDelivery.filter(status=status)
    if listener:
        qs = qs.filter(listener=listener)
    return qs


async def schedule_retry(delivery_ids: list[int] | None = None, listener: str | None = None,
                         host: Any = None) -> DeliveryReport:
    """An admin's retry: the chosen failed deliveries (or all of them) get fresh attempts and
    are delivered now."""
    qs = EventDelivery.filter(status__in=("pending", "failed"))
    if delivery_ids is not None:
        qs = qs.filter(id__in=delivery_ids)
    if listener:
        qs = qs.filter(listener=listener)
    rows = await qs.values_list("id", "event_id")
    if not rows:
        return DeliveryReport()
    ids = [r[0] for r in rows]
    # The attempts stay counted: a retry after the last automatic one gets one more try.
    # Guarded by the status: a row delivered meanwhile must stay delivered.
    await EventDelivery.filter(id__in=ids, status__in=("pending", "failed")).update(
        status="pending", next_try=clock.now())
    return await deliver({r[1] for r in rows}, host=host)
