"""The denominator's history: how many organizations each period counts (frozen for a closed
period, live for an open one) and the registry changes that moved it, period by period."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from core import clock
from core.orgs import Period
from plugins.coverage.models import KINDS, OrganizationHistory
from plugins.coverage.stats import _rows, source_for


@dataclass
class PeriodCount:
    period: Period
    total: int
    by_kind: dict[str, int]
    frozen: bool
    change: int | None  # against the period of the same kind before it


async def by_period() -> list[PeriodCount]:
    """Every period, newest first, with the organizations it counts."""
    periods = sorted(await Period.all(), key=lambda p: (p.end, p.end - p.start), reverse=True)
    out: list[PeriodCount] = []
    for p in periods:
        src = await source_for(p.code)
        counts = {k: 0 for k in KINDS}
        for row in await _rows(f"SELECT o.kind AS kind, COUNT(*) AS n FROM ({src.orgs}) o "
                               "GROUP BY o.kind"):
            counts[row["kind"]] = int(row["n"])
        out.append(PeriodCount(p, sum(counts.values()), counts, src.frozen, None))
    previous: dict[str, PeriodCount] = {}
    for row in reversed(out):  # oldest first: each period against the one before of its kind
        before = previous.get(row.period.kind)
        if before is not None:
            row.change = row.total - before.total
        previous[row.period.kind] = row
    return out


def changes(period: Period | None) -> Any:
    """History rows, newest first; with a period, those made while it ran."""
    from tortoise.timezone import localtime

    qs = OrganizationHistory.all()
    if period is not None:
        zone = clock.tz()
        start = dt.datetime.combine(period.start, dt.time(), zone)
        end = dt.datetime.combine(period.end + dt.timedelta(days=1), dt.time(), zone)
        # Bounds in the zone Tortoise stores in (SQLite compares the stored text).
        qs = qs.filter(changed_at__gte=localtime(start), changed_at__lt=localtime(end))
    return qs.order_by("-id")
