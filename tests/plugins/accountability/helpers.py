"""Shared pieces of the accountability tests: a small definition and event builders."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from core.contrib import DomainEvent

TZ = ZoneInfo("Asia/Shanghai")
YEAR = dt.datetime.now(TZ).year
LADDER = """
[accountability]
appeal_window_days = 10
repeat_within_days = 365

[accountability.points]
remind = 0.5
interview = 1.0
circulate = 2.0
admonish = 3.0
refer = 5.0

[[accountability.rules]]
trigger = "overdue"
threshold = 1
measure = "remind"
points = 0.5

[[accountability.rules]]
trigger = "overdue"
threshold = 15
measure = "interview"
points = 1.0

[[accountability.rules]]
trigger = "overdue"
threshold = 30
measure = "circulate"
points = 2.0

[[accountability.rules]]
trigger = "verification_failed"
threshold = 2
measure = "circulate"
points = 2.0

[[accountability.rules]]
trigger = "bottom_ranking"
threshold = 2
measure = "interview"
target = "head"
points = 1.0
"""


def definition(ladder: str = LADDER, year: int = YEAR, extra: str = "") -> str:
    """Units, periods of this year (open) and last year (closed), and the ladder."""
    return f"""
[assessment]
slug = "acc-test"
title = "责任追究测试"
year = {year}

[[units]]
code = "520100"
name = "贵阳市"
level = "city"

[[units]]
code = "520102"
name = "南明区"
level = "district"
parent = "520100"

[[units]]
code = "520103"
name = "云岩区"
level = "district"
parent = "520100"

[[units]]
code = "520102001"
name = "花果园社区"
level = "community"
parent = "520102"

[[periods]]
code = "{year}"

[[periods]]
code = "{year - 1}"
status = "closed"
{ladder}
{extra}
"""


async def apply_definition(host, text: str | None = None):
    from core import assessments
    from core.audit import acting_as

    with acting_as("test"):
        return await assessments.apply(text or definition(), host, applied_by="test")


def task_payload(task_id: int, unit: str = "520102", **extra) -> dict:
    payload = {"task_id": task_id, "task_no": f"ZG-{YEAR}-{task_id:04d}",
               "title": f"整改任务 {task_id}", "unit_code": unit, "responsible_person": "张三",
               "period": str(YEAR), "link": f"/rectification/tasks/{task_id}"}
    payload.update(extra)
    return payload


def overdue(task_id: int, days: int, threshold: int, unit: str = "520102", **extra) -> DomainEvent:
    payload = task_payload(task_id, unit, deadline=f"{YEAR}-01-05", days_overdue=days,
                           threshold=threshold, **extra)
    return DomainEvent("rectification.overdue", f"rectification.overdue:{task_id}:{threshold}",
                       payload, "rectification")


def failed(task_id: int, count: int, unit: str = "520102") -> DomainEvent:
    payload = task_payload(task_id, unit, fail_count=count, reason="整改材料不全")
    return DomainEvent("rectification.verification_failed",
                       f"rectification.verification_failed:{task_id}:{count}", payload,
                       "rectification")


def ranking(ranking_id: int, bottom: list[str], published_at: dt.datetime,
            units: tuple[str, ...] = ("520102", "520103"), group: str = "district",
            period: str | None = None) -> DomainEvent:
    """A published ranking: units in `bottom` take the last places."""
    order = [u for u in units if u not in bottom] + [u for u in units if u in bottom]
    places = [{"unit_code": u, "rank": i + 1, "total": float(90 - 5 * i)} for i, u in enumerate(order)]
    payload = {"ranking_id": ranking_id, "period": period or str(YEAR), "group": group,
               "published_at": published_at.isoformat(), "units": places,
               "bottom_n": len(bottom), "bottom": [p for p in places if p["unit_code"] in bottom],
               "top_n": 1, "link": f"/ranking/{ranking_id}"}
    return DomainEvent("ranking.published", f"ranking.published:{ranking_id}", payload, "ranking")


async def publish(event: DomainEvent):
    """Store the event and deliver it now, through the core event store."""
    from core import events

    return await events.publish(event)


def ours(report) -> dict:
    """The accountability plugin's answer to a delivered event."""
    found = [o.result for o in report.outcomes if o.listener == "accountability"]
    assert len(found) == 1 and all(o.delivered for o in report.outcomes), report
    return found[0]
