"""Append-only, hash-chained audit trail of every change.

Who acted comes from a context variable set by the web middleware, the CLI and the job
runner, so services record changes without passing the actor around.

Appends are serialized by the database, not by the process: PostgreSQL takes a
transaction-scoped advisory lock; SQLite takes its write lock before reading the chain's
head (a no-op UPDATE as the first statement, like BEGIN IMMEDIATE), so two processes on one
file wait for each other instead of forking the chain. No in-process lock is held: one
would deadlock against a caller's open transaction that already holds the database lock.

Set-based writes that bypass model saves (`QuerySet.update()` in jobs) are recorded with
`update_audited()` or `record_bulk()`: ONE ENTRY PER AFFECTED OBJECT, appended in one
transaction with `bulk_create`, so filtering the trail by object finds bulk changes too.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import datetime as dt
import decimal
import enum
import hashlib
import json
import math
from collections.abc import Iterable
from typing import Any

from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from core import clock
from core.sql import Sql

GENESIS = "0" * 64
_actor: contextvars.ContextVar[str] = contextvars.ContextVar("kaohe_actor", default="system")
PG_LOCK_KEY = 727001
LIMITS = {"action": 64, "object_type": 64, "object_id": 64}


class AuditEntry(Model):
    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField()
    actor = fields.CharField(max_length=100)
    action = fields.CharField(max_length=64)
    object_type = fields.CharField(max_length=64)
    object_id = fields.CharField(max_length=64)
    before = fields.JSONField(null=True)
    after = fields.JSONField(null=True)
    reason = fields.TextField(default="")
    prev_hash = fields.CharField(max_length=64)
    hash = fields.CharField(max_length=64, unique=True)

    class Meta:
        table = "core_audit"
        ordering = ["id"]
        # The audit page filters by time, actor and object.
        indexes = (("at",), ("actor",), ("object_type", "object_id"))


def current_actor() -> str:
    return _actor.get()


@contextlib.contextmanager
def acting_as(actor: str):
    """Attribute every change inside the block to `actor` (user name, 'job:ID', 'cli:NAME')."""
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _storable(value: Any) -> Any:
    """The form that comes back unchanged from PostgreSQL jsonb and SQLite text alike."""
    if isinstance(value, dict):
        return {_storable(k): _storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable(v) for v in value]
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")  # PostgreSQL text and jsonb refuse NUL
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)  # jsonb has no NaN or Infinity
        if value == 0:
            return 0.0  # jsonb numeric has no negative zero
        if value.is_integer() and abs(value) >= 1e16:
            return int(value)  # jsonb prints 1e16 as 10000000000000000, read back as int
        return value
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        return str(value)  # orjson (Tortoise's JSON codec) handles 64-bit integers only
    return value


def _plain(value: Any) -> bool:
    """Already in canonical form (strings without NUL, 64-bit integers, booleans, None, and
    lists and string-keyed dicts of them): the JSON round trip would give it back equal."""
    kind = type(value)
    if kind is str:
        return "\x00" not in value
    if kind is bool or value is None:
        return True
    if kind is int:
        return -(2**63) <= value < 2**63
    if kind is dict:
        return all(type(k) is str and "\x00" not in k and _plain(v) for k, v in value.items())
    if kind is list:
        return all(_plain(v) for v in value)
    return False


def canonical(value: Any) -> Any:
    """JSON-safe copy with a stable form, so the hash can be recomputed later."""
    if _plain(value):
        # Bulk writes canonicalize thousands of small dicts; the round trip is the cost.
        return value
    return _storable(json.loads(json.dumps(value, default=_default, sort_keys=True,
                                           ensure_ascii=False)))


def snapshot(instance: Model, exclude: tuple[str, ...] = ("password_hash",)) -> dict[str, Any]:
    data = {}
    for name in instance._meta.db_fields:
        if name in exclude:
            continue
        data[name] = getattr(instance, name, None)
    for name in instance._meta.fk_fields:
        data[f"{name}_id"] = getattr(instance, f"{name}_id", None)
    return canonical(data)


# What json.dumps(sort_keys=True, ensure_ascii=False, separators=(",", ":")) builds on every
# call, built once: bulk writes hash tens of thousands of entries.
_HASH_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def entry_hash(prev_hash: str, at: str, actor: str, action: str, object_type: str,
               object_id: str, before: Any, after: Any, reason: str) -> str:
    body = _HASH_JSON.encode([prev_hash, at, actor, action, object_type, object_id, before,
                              after, reason])
    return hashlib.sha256(body.encode()).hexdigest()


def _checked(action: str, object_type: str, object_id: Any) -> str:
    # Same limits on both databases: SQLite would silently store what PostgreSQL refuses.
    for name, value in (("action", action), ("object_type", object_type),
                        ("object_id", str(object_id))):
        if len(value) > LIMITS[name]:
            raise ValueError(f"audit {name}: at most {LIMITS[name]} characters, got {len(value)}")
    return str(object_id).replace("\x00", "\ufffd")


async def _lock_chain(conn: Any) -> None:
    """Hold the chain until this transaction ends (re-entrant within one transaction)."""
    if Sql(conn).pg:
        await conn.execute_query(f"SELECT pg_advisory_xact_lock({PG_LOCK_KEY})")
    else:
        # Take the write lock before reading the head (the busy handler waits for it).
        await conn.execute_query("UPDATE core_audit SET id = id WHERE id = -1")


async def _head(conn: Any) -> str:
    """Lock the chain and return the hash of its last entry."""
    await _lock_chain(conn)
    last = await AuditEntry.all().using_db(conn).order_by("-id").only("id", "hash").first()
    return last.hash if last else GENESIS


def _now() -> dt.datetime:
    # Whole seconds: both databases give back exactly what was hashed.
    return clock.now().replace(microsecond=0)


def _entry(prev: str, at: dt.datetime, actor: str, action: str, object_type: str,
           object_id: str, before: Any, after: Any, reason: str) -> AuditEntry:
    reason = (reason or "").replace("\x00", "\ufffd")
    digest = entry_hash(prev, at.isoformat(), actor, action, object_type, object_id,
                        before, after, reason)
    return AuditEntry(at=at, actor=actor, action=action, object_type=object_type,
                      object_id=object_id, before=before, after=after, reason=reason,
                      prev_hash=prev, hash=digest)


# A reason the platform writes itself is stored as its catalog key and parameters, so each
# reader reads it in their own language; a person's reason is stored and shown as typed.
SAID = "i18n:"


def said(key: str, **params: Any) -> str:
    """The stored form of a system-written reason: `audit.said("rectification.said.daily_scan")`
    or with parameters (`user="zhang"`); `reason_text` reads it back."""
    if not params:
        return SAID + key
    return f"{SAID}{key} {json.dumps(params, ensure_ascii=False, sort_keys=True, default=str)}"


def reason_text(stored: str, lang: str) -> str:
    """A stored reason in the reader's words: a system-written one through the catalog, a
    person's as they wrote it."""
    if not stored.startswith(SAID):
        return stored
    key, _, raw = stored[len(SAID):].partition(" ")
    try:
        params = json.loads(raw) if raw else {}
    except ValueError:
        return stored
    from core import i18n

    return i18n.t(key, lang, **params) if isinstance(params, dict) else stored


async def record(action: str, object_type: str, object_id: Any, *, before: Any = None,
                 after: Any = None, reason: str = "", actor: str | None = None) -> AuditEntry:
    """Append one entry inside the caller's transaction, if any."""
    actor = (actor or current_actor())[:100]
    object_id = _checked(action, object_type, object_id)
    before, after = canonical(before), canonical(after)
    async with in_transaction() as conn:
        prev = await _head(conn)
        entry = _entry(prev, _now(), actor, action, object_type, object_id, before, after, reason)
        await entry.save(using_db=conn)
        return entry


async def record_many(action: str, object_type: str,
                      items: Iterable[tuple[Any, Any, Any]], *, reason: str = "",
                      actor: str | None = None) -> int:
    """Append one entry per (object_id, before, after), all in one transaction.

    Plain rows, not model instances: a job that changes tens of thousands of rows records
    each of them without the ORM's per-object cost. PostgreSQL gets them as arrays in one
    statement per 5,000 (a round trip per row cost more than the scan that changed them);
    SQLite, in process, through one prepared statement.
    """
    actor = (actor or current_actor())[:100]
    reason = (reason or "").replace("\x00", "\ufffd")
    rows = [(_checked(action, object_type, oid), canonical(b), canonical(a)) for oid, b, a in items]
    if not rows:
        return 0
    as_json = AuditEntry._meta.fields_map["after"].to_db_value
    async with in_transaction() as conn:
        prev, at = await _head(conn), _now()
        stamp = at.isoformat()
        values = []
        for oid, before, after in rows:
            digest = entry_hash(prev, stamp, actor, action, object_type, oid, before, after,
                                reason)
            values.append((oid, as_json(before, AuditEntry), as_json(after, AuditEntry), prev,
                           digest))
            prev = digest
        # Row order is chain order: ids are assigned in insert order under the chain lock.
        if Sql(conn).pg:
            for start in range(0, len(values), 5000):
                chunk = values[start:start + 5000]
                await conn.execute_query(_PG_INSERT, [at, actor, action, object_type, reason,
                                                      *(list(c) for c in zip(*chunk, strict=True))])
        else:
            await conn.execute_many(
                'INSERT INTO core_audit (at, actor, action, object_type, object_id, "before", '
                '"after", reason, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
                [[at, actor, action, object_type, oid, b, a, reason, p, h]
                 for oid, b, a, p, h in values])
    return len(rows)


# WITH ORDINALITY + ORDER BY: the rows, and so their ids, follow the arrays' (chain) order.
_PG_INSERT = (
    'INSERT INTO core_audit (at, actor, action, object_type, object_id, "before", "after", '
    "reason, prev_hash, hash) SELECT $1::timestamptz, $2::text, $3::text, $4::text, t.o, "
    "t.b::jsonb, t.a::jsonb, $5::text, t.p, t.h FROM unnest($6::text[], $7::text[], "
    "$8::text[], $9::text[], $10::text[]) WITH ORDINALITY AS t(o, b, a, p, h, n) ORDER BY t.n")


async def record_bulk(action: str, object_type: str, object_ids: Iterable[Any], *,
                      before: Any = None, after: Any = None, reason: str = "",
                      actor: str | None = None) -> int:
    """A set-based change applied alike to many objects: one entry per object id."""
    return await record_many(action, object_type, ((oid, before, after) for oid in object_ids),
                             reason=reason, actor=actor)


async def update_audited(queryset: Any, action: str, *, reason: str = "",
                         object_type: str | None = None, **changes: Any) -> int:
    """`queryset.update(**changes)` plus one audit entry per changed row (old → new values).

    For jobs that change many rows at once: the rows' ids and old values are read, the
    update is one statement, and the entries are appended in the same transaction.
    """
    model = queryset.model
    object_type = object_type or model._meta.db_table
    pk = model._meta.pk_attr
    names = list(changes)
    async with in_transaction() as conn:
        await _lock_chain(conn)  # first statement takes the write lock (see module doc)
        old = await queryset.using_db(conn).values(pk, *names)
        if not old:
            return 0
        ids = [row[pk] for row in old]
        for chunk in range(0, len(ids), 500):
            await model.filter(**{f"{pk}__in": ids[chunk:chunk + 500]}).using_db(conn).update(
                **changes)
        after = {name: changes[name] for name in names}
        await record_many(action, object_type,
                          ((row[pk], {n: row[n] for n in names}, after) for row in old),
                          reason=reason)
    return len(old)


def search(*, actor: str = "", action: str = "", object_type: str = "", object_id: str = "",
           date_from: dt.date | None = None, date_to: dt.date | None = None,
           tz: str | None = None) -> Any:
    """Entries matching the filters, newest first (a QuerySet).

    `actor` matches part of the name, `action` a prefix ("user." finds every user action),
    object type and id exactly; dates are whole days in `tz` (the platform's zone unless
    told), both ends included.
    """
    from zoneinfo import ZoneInfo

    from tortoise.timezone import localtime

    qs = AuditEntry.all()
    if actor:
        qs = qs.filter(actor__icontains=actor)
    if action:
        qs = qs.filter(action__startswith=action)
    if object_type:
        qs = qs.filter(object_type=object_type)
    if object_id:
        qs = qs.filter(object_id=object_id)
    zone = ZoneInfo(tz) if tz else clock.tz()
    # Bounds in the zone Tortoise stores in: SQLite compares datetimes as text, so a UTC
    # bound against '+08:00' values would compare wrongly.
    if date_from:
        qs = qs.filter(at__gte=localtime(dt.datetime.combine(date_from, dt.time(), zone)))
    if date_to:
        end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), zone)
        qs = qs.filter(at__lt=localtime(end))
    return qs.order_by("-id")


@dataclasses.dataclass
class Walk:
    """What walking the chain found. `at` maps each asked position (1-based) the walk reached
    to that entry's (id, hash); `kept` maps each asked id to the entries with an id up to it."""

    checked: int = 0
    broken: AuditEntry | None = None
    why: str = ""
    kind: str = ""  # "link" or "altered" when broken
    at: dict[int, tuple[int, str]] = dataclasses.field(default_factory=dict)
    kept: dict[int, int] = dataclasses.field(default_factory=dict)


async def walk(batch: int = 5000, positions: Iterable[int] = (),
               upto_ids: Iterable[int] = ()) -> Walk:
    """Recompute every link and hash, oldest first, stopping at the first broken entry."""
    out, prev, last_id = Walk(), GENESIS, 0
    wanted = set(positions)
    bounds = sorted(set(upto_ids))
    while True:
        rows = await AuditEntry.filter(id__gt=last_id).order_by("id").limit(batch)
        if not rows:
            break
        for row in rows:
            while bounds and row.id > bounds[0]:  # ids only grow along the chain
                out.kept[bounds.pop(0)] = out.checked
            # Entries are written in whole seconds, so any stored fraction is an alteration.
            at = row.at.astimezone(dt.UTC).isoformat()
            if row.prev_hash != prev:
                out.broken, out.kind = row, "link"
                out.why = "previous link does not match (a row was removed or reordered)"
                break
            expect = entry_hash(prev, at, row.actor, row.action, row.object_type, row.object_id,
                                row.before, row.after, row.reason)
            if expect != row.hash:
                out.broken, out.kind = row, "altered"
                out.why = "content does not match its hash (the row was altered)"
                break
            prev, last_id = row.hash, row.id
            out.checked += 1
            if out.checked in wanted:
                out.at[out.checked] = (row.id, row.hash)
        if out.broken is not None:
            break
    for bound in bounds:
        out.kept[bound] = out.checked
    return out


async def verify(batch: int = 5000) -> tuple[int, AuditEntry | None, str]:
    """Walk the chain; return (entries checked, first broken entry or None, why)."""
    found = await walk(batch)
    return found.checked, found.broken, found.why


async def chain_head(conn: Any) -> tuple[int, int, str]:
    """(entries, last id, last hash) with the chain locked, so no append falls in between."""
    await _lock_chain(conn)
    count = await AuditEntry.all().using_db(conn).count()
    last = await AuditEntry.all().using_db(conn).order_by("-id").only("id", "hash").first()
    return (count, last.id, last.hash) if last else (0, 0, GENESIS)
