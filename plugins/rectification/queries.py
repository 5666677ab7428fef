"""Read side: lists, ledgers, per-unit summaries, indicator values. No writes here."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tortoise.expressions import Q
from tortoise.timezone import localtime

from core import clock
from core.calendar import WorkCalendar
from core.errors import Invalid
from core.orgs import OrgUnit, Period
from plugins.rectification.common import Actor, local_date, now_utc, scoped
from plugins.rectification.models import Task

OPEN_WORK = ("dispatched", "responded")
CLOSED = ("closed", "evaluated")
RECEIVED = OPEN_WORK + CLOSED
FIELDS = ("id", "number", "title", "source", "category", "severity", "status", "unit_id",
          "unit__code", "unit__name", "unit__path", "responsible_person", "registered_at",
          "dispatched_at", "deadline", "overdue", "overdue_level", "fail_count",
          "extension_count", "responded_at", "closed_at", "closed_late", "days_to_close",
          "satisfaction", "period__code")


def q2(value: Decimal | float | int) -> float:
    """Two decimals, rounded half up."""
    return float(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


async def unit_root(code: str | None) -> OrgUnit | None:
    if not code:
        return None
    unit = await OrgUnit.get_or_none(code=code)
    if unit is None:
        raise Invalid("unknown_unit", f"unit: no org unit with code '{code}'", field="unit")
    return unit


async def tasks_query(period: str | None = None, unit: str | None = None,
                      actor: Actor | None = None, **filters: Any):
    """The tasks of a period and unit subtree the actor may see, as a queryset to page."""
    qs = Task.all()
    if period:
        qs = qs.filter(period__code=period)
    root = await unit_root(unit)
    if root is not None:
        qs = qs.filter(unit__path__startswith=root.path)
    if actor is not None:
        qs = scoped(qs, actor)
    return qs.filter(**filters) if filters else qs


async def task_rows(period: str | None = None, unit: str | None = None,
                    actor: Actor | None = None, **filters: Any) -> list[dict[str, Any]]:
    qs = await tasks_query(period, unit, actor, **filters)
    return await qs.order_by("id").values(*FIELDS)


def days_overdue(row: dict[str, Any], cal: WorkCalendar, today: dt.date) -> int:
    """Working days past the deadline: until today while open, until the response once done."""
    deadline = row["deadline"]
    if deadline is None:
        return 0
    if row["status"] in CLOSED:
        end = local_date(row["responded_at"]) if row["responded_at"] else deadline
    elif row["status"] == "dispatched":
        end = today
    elif row["status"] == "responded" and row["responded_at"]:
        end = local_date(row["responded_at"])
    else:
        return 0
    return max(0, cal.working_days_between(deadline, end))


async def with_days(rows: list[dict[str, Any]], today: dt.date | None = None) -> list[dict]:
    cal = await WorkCalendar.load()
    today = today or local_date(now_utc())
    for row in rows:
        row["days_overdue"] = days_overdue(row, cal, today)
        row["late"] = bool(row["closed_late"] or (row["status"] == "dispatched" and row["overdue"]))
    return rows


async def days_overdue_of(tasks: list[Task], today: dt.date | None = None) -> dict[int, int]:
    """Working days overdue of each task (by id), as `days_overdue` counts them."""
    cal = await WorkCalendar.load()
    today = today or local_date(now_utc())
    return {t.id: days_overdue({"deadline": t.deadline, "status": t.status,
                                "responded_at": t.responded_at}, cal, today) for t in tasks}


def state_of(row: dict[str, Any]) -> str:
    """One word for colours and summaries."""
    if row["status"] in CLOSED:
        return "closed_late" if row["closed_late"] else "closed_on_time"
    if row["status"] == "rejected":
        return "rejected"
    if row["status"] == "dispatched" and row["overdue"]:
        return "overdue"
    return "open"


async def summary_by_unit(period: str, unit: str | None = None,
                          today: dt.date | None = None) -> tuple[list[dict], dict]:
    """Per child unit of the root (its whole subtree): received, on time, late, open, overdue."""
    root = await unit_root(unit)
    if root is None:
        groups = await OrgUnit.filter(parent_id=None).order_by("sort_order", "code")
        if len(groups) == 1:
            root = groups[0]
    if root is not None:
        groups = [root] + list(await OrgUnit.filter(parent_id=root.id).order_by("sort_order",
                                                                                  "code"))
    rows = await task_rows(period, root.code if root else None)
    out = []
    for g in groups:
        own = g is root and root is not None and len(groups) > 1
        mine = [r for r in rows if (r["unit_id"] == g.id if own
                                    else r["unit__path"].startswith(g.path))]
        if own and not mine:
            continue
        out.append(_summarize(mine, g.code, g.name + ("（本级）" if own else "")))
    total = _summarize(rows, root.code if root else "", "合计")
    return out, total


def _summarize(rows: list[dict[str, Any]], code: str, name: str) -> dict[str, Any]:
    c = Counter(state_of(r) for r in rows if r["status"] in RECEIVED)
    received = sum(c.values())
    closed = c["closed_on_time"] + c["closed_late"]
    due = closed + c["overdue"]
    return {"unit_code": code, "unit_name": name, "received": received,
            "closed_on_time": c["closed_on_time"], "closed_late": c["closed_late"],
            "open": c["open"] + c["overdue"], "overdue": c["overdue"],
            "on_time_rate": (Decimal(c["closed_on_time"]) / due) if due else None}


async def overdue_by_district() -> list[tuple[str, int]]:
    """Open overdue tasks counted per district (whole subtree), for the dashboard chart."""
    districts = await OrgUnit.filter(level="district").order_by("sort_order", "code")
    counts = Counter()
    rows = await Task.filter(status="dispatched", overdue=True).values_list("unit__path")
    for (path,) in rows:
        for d in districts:
            if path.startswith(d.path):
                counts[d.id] += 1
                break
    return [(d.name, counts[d.id]) for d in districts]


async def status_counts(actor: Actor) -> dict[str, int]:
    """Tasks per status, counted in the database."""
    from tortoise.functions import Count

    rows = await scoped(Task.all(), actor).annotate(n=Count("id")).group_by("status") \
        .values_list("status", "n")
    return {status: n for status, n in rows}


# -- indicator sources: a unit's value aggregates its whole subtree ---------------------------

async def _indicator_rows(period: str) -> list[dict[str, Any]]:
    """Tasks of the period: those filed under it or under a period inside it (a year holds its
    quarters' tasks), and those filed under a longer period that were registered within its
    days (a half-year ranking takes the half of the year's tasks registered in it)."""
    asked = await Period.get_or_none(code=period)
    if asked is None:
        return []
    inside = Period.filter(start__gte=asked.start, end__lte=asked.end).values_list("id", flat=True)
    around = Period.filter(start__lte=asked.start, end__gte=asked.end).exclude(
        id=asked.id).values_list("id", flat=True)
    zone = clock.tz()
    # bounds in the zone Tortoise stores in: SQLite compares datetimes as text
    first = localtime(dt.datetime.combine(asked.start, dt.time(), zone))
    after = localtime(dt.datetime.combine(asked.end + dt.timedelta(days=1), dt.time(), zone))
    return await Task.filter(
        Q(period_id__in=list(await inside))
        | Q(period_id__in=list(await around), registered_at__gte=first, registered_at__lt=after),
        status__in=RECEIVED).values(
        "status", "overdue", "closed_late", "days_to_close", "satisfaction", "unit__path")


async def _per_unit(period: str, unit_codes: list[str], fold) -> dict[str, float | None]:
    rows = await _indicator_rows(period)
    paths = dict(await OrgUnit.filter(code__in=unit_codes).values_list("code", "path"))
    return {code: (fold([r for r in rows if r["unit__path"].startswith(paths[code])])
                   if code in paths else None) for code in unit_codes}


def _on_time(rows: list[dict]) -> float | None:
    s = _summarize(rows, "", "")
    return q2(s["on_time_rate"] * 100) if s["on_time_rate"] is not None else None


def _overdue_count(rows: list[dict]) -> float:
    return float(sum(1 for r in rows if r["closed_late"] or
                     (r["status"] == "dispatched" and r["overdue"])))


def _avg(values: list[int]) -> float | None:
    return q2(Decimal(sum(values)) / len(values)) if values else None


async def on_time_rate(period: str, unit_codes: list[str]) -> dict[str, float | None]:
    """Closed on time ÷ tasks whose outcome is due (closed, or open past the deadline), in %."""
    return await _per_unit(period, unit_codes, _on_time)


async def overdue_count(period: str, unit_codes: list[str]) -> dict[str, float | None]:
    """Tasks open past their deadline plus tasks closed late."""
    return await _per_unit(period, unit_codes, _overdue_count)


async def avg_days_to_close(period: str, unit_codes: list[str]) -> dict[str, float | None]:
    """Working days from dispatch to closure, averaged over closed tasks."""
    return await _per_unit(period, unit_codes, lambda rows: _avg(
        [r["days_to_close"] for r in rows if r["status"] in CLOSED
         and r["days_to_close"] is not None]))


async def avg_satisfaction(period: str, unit_codes: list[str]) -> dict[str, float | None]:
    """Satisfaction score (0–100) averaged over evaluated tasks."""
    return await _per_unit(period, unit_codes, lambda rows: _avg(
        [r["satisfaction"] for r in rows if r["satisfaction"] is not None]))
