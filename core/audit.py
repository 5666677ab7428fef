"""Append-only, hash-chained audit trail of every change.

Who acted comes from a context variable set by the web middleware, the CLI and the job
runner, so services record changes without passing the actor around.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import decimal
import enum
import hashlib
import json
from typing import Any

from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

GENESIS = "0" * 64
_actor: contextvars.ContextVar[str] = contextvars.ContextVar("kaohe_actor", default="system")
_lock = asyncio.Lock()


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


def canonical(value: Any) -> Any:
    """JSON-safe copy with a stable form, so the hash can be recomputed later."""
    return json.loads(json.dumps(value, default=_default, sort_keys=True, ensure_ascii=False))


def snapshot(instance: Model, exclude: tuple[str, ...] = ("password_hash",)) -> dict[str, Any]:
    data = {}
    for name in instance._meta.db_fields:
        if name in exclude:
            continue
        data[name] = getattr(instance, name, None)
    for name in instance._meta.fk_fields:
        data[f"{name}_id"] = getattr(instance, f"{name}_id", None)
    return canonical(data)


def entry_hash(prev_hash: str, at: str, actor: str, action: str, object_type: str,
               object_id: str, before: Any, after: Any, reason: str) -> str:
    body = json.dumps([prev_hash, at, actor, action, object_type, object_id, before, after, reason],
                      sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


async def record(action: str, object_type: str, object_id: Any, *, before: Any = None,
                 after: Any = None, reason: str = "", actor: str | None = None) -> AuditEntry:
    """Append one entry. Serialized per process, and per database on PostgreSQL."""
    actor = actor or current_actor()
    before, after = canonical(before), canonical(after)
    async with _lock, in_transaction() as conn:
        if conn.capabilities.dialect == "postgres":
            await conn.execute_query("SELECT pg_advisory_xact_lock(727001)")
        last = await AuditEntry.all().using_db(conn).order_by("-id").first()
        prev = last.hash if last else GENESIS
        at = dt.datetime.now(dt.UTC).replace(microsecond=0)
        digest = entry_hash(prev, at.isoformat(), actor, action, object_type, str(object_id),
                            before, after, reason)
        return await AuditEntry.create(
            at=at, actor=actor, action=action, object_type=object_type, object_id=str(object_id),
            before=before, after=after, reason=reason, prev_hash=prev, hash=digest, using_db=conn)


async def verify(batch: int = 5000) -> tuple[int, AuditEntry | None, str]:
    """Walk the chain; return (entries checked, first broken entry or None, why)."""
    prev, checked, last_id = GENESIS, 0, 0
    while True:
        rows = await AuditEntry.filter(id__gt=last_id).order_by("id").limit(batch)
        if not rows:
            return checked, None, ""
        for row in rows:
            at = row.at.astimezone(dt.UTC).replace(microsecond=0).isoformat()
            if row.prev_hash != prev:
                return checked, row, "previous link does not match (a row was removed or reordered)"
            expect = entry_hash(prev, at, row.actor, row.action, row.object_type, row.object_id,
                                row.before, row.after, row.reason)
            if expect != row.hash:
                return checked, row, "content does not match its hash (the row was altered)"
            prev, checked, last_id = row.hash, checked + 1, row.id
