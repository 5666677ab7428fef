"""Outbox for domain events raised by a transition: stored in the transition's transaction,
announced after the commit, retried by the daily scan when a listener failed."""

from __future__ import annotations

import logging

from core import audit
from core.contrib import DomainEvent
from core.plugins import get_host
from plugins.rectification.common import now_utc
from plugins.rectification.models import EventOutbox

log = logging.getLogger("kaohe.rectification")


async def put(event: DomainEvent) -> EventOutbox:
    return await EventOutbox.create(key=event.key, name=event.name,
                                    payload=audit.canonical(event.payload), created_at=now_utc())


async def deliver(rows: list[EventOutbox]) -> int:
    """Announce each row; a failing listener leaves its row for the next try."""
    sent = 0
    for row in rows:
        event = DomainEvent(name=row.name, key=row.key, payload=row.payload,
                            source="rectification", occurred_at=row.created_at)
        try:
            await get_host().announce(event)
        except Exception:
            log.exception("announcing %s failed; the daily scan will retry", row.key)
            continue
        await EventOutbox.filter(id=row.id).update(announced_at=now_utc())
        sent += 1
    return sent


async def retry_pending() -> int:
    return await deliver(await EventOutbox.filter(announced_at=None).order_by("id"))
