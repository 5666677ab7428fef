"""What admins see of the event store beyond the retries: deliveries a listener refused.

A refusal is a delivery the listener took and answered with `{"status": "refused", …}`
(docs/plugins.md: a payload that breaks the contract is refused, not raised). Nothing was
written for it, so it is never retried by itself; once the cause is fixed (the unit the
event names now exists, say) an admin delivers it again to that listener, audited.
"""

from __future__ import annotations

from typing import Any

from tortoise import Tortoise
from tortoise.transactions import in_transaction

from core import audit, clock, events
from core.events_models import EventDelivery
from core.sql import Sql

REFUSED = "refused"


def _condition(dialect: str) -> str:
    if dialect == "postgres":
        return "d.result ->> 'status' = 'refused'"
    # Tortoise keeps JSON as text on SQLite; only objects have a status.
    return ("d.result IS NOT NULL AND json_valid(d.result) AND json_type(d.result) = 'object' "
            "AND json_extract(d.result, '$.status') = 'refused'")


async def _refused_ids(listener: str | None, limit: int | None, offset: int = 0,
                       only: list[int] | None = None) -> tuple[list[int], int]:
    conn = Tortoise.get_connection("default")
    dialect = "postgres" if Sql(conn).pg else "sqlite"
    where = f"d.status = 'delivered' AND {_condition(dialect)}"
    params: list[Any] = []

    def mark() -> str:
        return f"${len(params)}" if dialect == "postgres" else "?"

    if listener:
        params.append(listener)
        where += f" AND d.listener = {mark()}"
    if only is not None:
        ids = [int(i) for i in only][:1000] or [0]
        where += f" AND d.id IN ({', '.join(str(i) for i in ids)})"
    total = (await conn.execute_query_dict(
        f"SELECT COUNT(*) AS n FROM core_event_delivery d WHERE {where}", params))[0]["n"]
    sql = f"SELECT d.id AS id FROM core_event_delivery d WHERE {where} ORDER BY d.id DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
    rows = await conn.execute_query_dict(sql, params)
    return [int(r["id"]) for r in rows], int(total)


async def refused(listener: str | None = None, limit: int = 50, offset: int = 0
                  ) -> tuple[list[EventDelivery], int]:
    """Refused deliveries, newest first, with their events; and how many there are."""
    ids, total = await _refused_ids(listener, limit, offset)
    rows = await EventDelivery.filter(id__in=ids).select_related("event").order_by("-id") \
        if ids else []
    return list(rows), total


def reason_of(delivery: EventDelivery) -> str:
    result = delivery.result if isinstance(delivery.result, dict) else {}
    return str(result.get("message") or "")


async def redeliver(delivery_ids: list[int], host: Any = None) -> events.DeliveryReport:
    """Deliver refused deliveries again, each to its own listener; audited per delivery."""
    ids, _ = await _refused_ids(None, None, only=delivery_ids)
    if not ids:
        return events.DeliveryReport()
    rows = await EventDelivery.filter(id__in=ids).values("id", "event_id", "result")
    async with in_transaction():
        # Guarded by the status: only a row still delivered-as-refused is sent again.
        await EventDelivery.filter(id__in=ids, status="delivered").update(
            status="pending", next_try=clock.now(), delivered_at=None)
        await audit.record_many("events.redeliver", "event_delivery", (
            (r["id"], {"status": "delivered", "result": r["result"]}, {"status": "pending"})
            for r in rows))
    return await events.deliver({r["event_id"] for r in rows}, host=host)
