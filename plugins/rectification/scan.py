"""The daily scan: mark overdue tasks, announce thresholds once, remind unit officers.

Marking is one set-based UPDATE. Crossings are rows with a unique (task, threshold) pair:
the INSERT … SELECT per threshold can never create a second row for the same crossing, and
each new row's event goes into the core event store in the same transaction (one batch
insert), so a crossing is never recorded without its event nor announced twice. The events
are delivered after the commit; a listener that fails is retried by the core.events job.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from typing import Any

from tortoise import Tortoise
from tortoise.transactions import in_transaction

from core import audit, events, notify
from core.calendar import WorkCalendar
from core.sql import Sql
from plugins.rectification.common import local_date, now_utc, officers_by_path, officers_for
from plugins.rectification.config import Definition, current_definition

log = logging.getLogger("kaohe.rectification")
T = "rectification_task"
# The predicates of the two partial indexes (migration 0004), word for word: SQLite uses a
# partial index only for a query whose WHERE repeats its predicate.
NOT_OVERDUE = "status = 'dispatched' AND overdue = FALSE"
PASSED_UNREMINDED = "status = 'dispatched' AND overdue = TRUE AND reminded_passed IS NULL"


def threshold_cutoff(cal: WorkCalendar, today: dt.date, days: int) -> dt.date:
    """The latest deadline that is at least `days` working days overdue on `today`."""
    day, count = today, 0
    while count < days:
        count += cal.is_workday(day)
        day -= dt.timedelta(days=1)
    return day


class Changes(dict):
    """Task id → [number, before, after] of the columns one scan changed, for the trail."""

    def note(self, row: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
        entry = self.setdefault(row["id"], [row["number"], {}, {}])
        for key, value in before.items():
            entry[1].setdefault(key, value)  # the value before this scan's first change
        entry[2].update(after)

    def items_for_audit(self) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
        return [(number, before, after) for number, before, after in self.values()]


async def mark_overdue(conn: Any, today: dt.date, changes: Changes | None = None) -> list[int]:
    """One UPDATE: every dispatched task past its deadline becomes overdue; returns their ids.

    With `changes`, the rows are read first (same predicate, same index) so each task's
    entry in the trail shows its old and new values.
    """
    q = Sql(conn)
    since = "deadline + 1" if q.pg else "date(deadline, '+1 day')"
    if changes is not None:
        _, old = await q.run(f"SELECT id, number, deadline, overdue_since FROM {T} "
                             f"WHERE {NOT_OVERDUE} AND deadline < {q.p(1)}", q.d(today))
        for r in old:
            changes.note(r, {"overdue": False, "overdue_since": _iso(r["overdue_since"])},
                         {"overdue": True, "overdue_since":
                          (_as_date(r["deadline"]) + dt.timedelta(days=1)).isoformat()})
    update = (f"UPDATE {T} SET overdue = TRUE, overdue_since = {since} "
              f"WHERE {NOT_OVERDUE} AND deadline < {q.p(1)} RETURNING id")
    if q.pg:  # asyncpg returns rows only for a statement that is not a bare UPDATE
        update = f"WITH changed AS ({update}) SELECT id FROM changed"
    _, rows = await q.run(update, q.d(today))
    return [r["id"] for r in rows]


async def record_crossings(conn: Any, today: dt.date, cal: WorkCalendar, thresholds: list[int],
                           rows_out: list[dict[str, Any]] | None = None,
                           changes: Changes | None = None) -> dict[int, int]:
    """Per threshold: one INSERT … SELECT of the crossings and one UPDATE of the level column.

    The levels below a threshold are listed (`overdue_level IN (…)`) rather than compared
    (`< T`) so each statement seeks the (status, overdue_level, deadline) index to the rows
    that newly crossed instead of scanning every overdue task. The INSERT returns the new
    crossings; with what their events carry they are appended to `rows_out` (on PostgreSQL
    the UPDATE and the INSERT are one statement). With `changes`, each threshold's rows are
    read before they are raised, for the trail.
    """
    q = Sql(conn)
    levels = await _levels(q) | set(thresholds) | {0}
    crossed: dict[int, int] = {}
    for days in sorted(thresholds):
        cutoff = q.d(threshold_cutoff(cal, today, days))
        below = ", ".join(str(int(v)) for v in sorted(levels) if v < days)

        def where(n: int, below: str = below) -> str:
            return (f"status = 'dispatched' AND overdue_level IN ({below}) "
                    f"AND deadline <= {q.p(n)}")

        if changes is not None:
            _, old = await q.run(f"SELECT id, number, overdue_level FROM {T} WHERE {where(1)}",
                                 cutoff)
            for r in old:
                changes.note(r, {"overdue_level": r["overdue_level"]}, {"overdue_level": days})
        insert = (f"INSERT INTO rectification_overdue_notice (task_id, threshold, crossed_on) "
                  f"SELECT id, {days}, {q.p(1)} FROM {{source}} "
                  f"ON CONFLICT (task_id, threshold) DO NOTHING")
        if q.pg:  # one statement: the UPDATE hands the rows it raised to the INSERT
            _, rows = await q.run(
                f"WITH raised AS (UPDATE {T} SET overdue_level = {days} WHERE {where(2)} "
                f"RETURNING id), ins AS ({insert.format(source='raised')} "
                f"RETURNING id, task_id, threshold) SELECT id, task_id, threshold FROM ins",
                q.d(today), cutoff)
            crossed[days] = len(rows)
            if rows_out is not None and rows:
                rows_out.extend(await _with_payload(q, rows))
            continue
        _, rows = await q.run(insert.format(source=f"{T} WHERE {where(2)}")
                              + " RETURNING id, task_id, threshold", q.d(today), cutoff)
        crossed[days] = len(rows)
        if rows_out is not None and rows:
            rows_out.extend(await _with_payload(q, rows))
        await q.run(f"UPDATE {T} SET overdue_level = {days} WHERE {where(1)}", cutoff)
    return crossed


async def _with_payload(q: Sql, notices: list[Any]) -> list[dict[str, Any]]:
    """The crossings with what their events carry, read by primary key in a second
    statement: joined inside the crossing statement, the planner cannot see how many rows
    the CTEs hold and chose hash joins over the whole table, or nested loops that took
    minutes on a first scan of 60,000 overdue tasks."""
    where, values = q.in_ids("t.id", 1, [n["task_id"] for n in notices])
    _, rows = await q.run(f"SELECT t.id, {_EVENT_COLUMNS} FROM {T} t {_EVENT_JOINS} "
                          f"WHERE {where}", *values)
    tasks = {r["id"]: r for r in rows}
    out = []
    for n in sorted(notices, key=lambda n: n["id"]):
        t = tasks[n["task_id"]]
        out.append({"id": n["id"], "threshold": n["threshold"], "task_id": n["task_id"],
                    "number": t["number"], "title": t["title"],
                    "responsible_person": t["responsible_person"], "deadline": t["deadline"],
                    "unit_code": t["unit_code"], "period_code": t["period_code"]})
    return out


async def _levels(q: Sql) -> set[int]:
    """The distinct levels of dispatched tasks by skipping through the level index, a probe
    per level instead of reading every row (SELECT DISTINCT scans the table)."""
    _, rows = await q.run(
        f"WITH RECURSIVE lv(v) AS ("
        f"SELECT MIN(overdue_level) FROM {T} WHERE status = 'dispatched' "
        f"UNION ALL SELECT (SELECT MIN(overdue_level) FROM {T} "
        f"WHERE status = 'dispatched' AND overdue_level > lv.v) FROM lv WHERE lv.v IS NOT NULL) "
        f"SELECT v FROM lv WHERE v IS NOT NULL")
    return {r["v"] for r in rows}


# What each announcement reads: the task (t), its unit and period.
_EVENT_COLUMNS = ("t.number, t.title, t.responsible_person, t.deadline, "
                  "u.code AS unit_code, p.code AS period_code")
_EVENT_JOINS = ("JOIN core_org_unit u ON u.id = t.unit_id "
                "JOIN core_period p ON p.id = t.period_id")


async def announce_crossings(conn: Any, rows: list[dict[str, Any]], today: dt.date,
                             cal: WorkCalendar) -> list[int]:
    """Store the crossings' events in the scan's transaction, one batch; their event ids."""
    days_for: dict[dt.date, int] = {}
    items = []
    for r in rows:
        deadline = _as_date(r["deadline"])
        if deadline not in days_for:
            days_for[deadline] = cal.working_days_between(deadline, today)
        items.append((f"rectification.overdue:{r['task_id']}:{r['threshold']}", {
            "task_id": r["task_id"], "task_no": r["number"], "title": r["title"],
            "unit_code": r["unit_code"], "responsible_person": r["responsible_person"],
            "deadline": deadline.isoformat(), "days_overdue": days_for[deadline],
            "threshold": r["threshold"], "period": r["period_code"],
            "link": f"/rectification/tasks/{r['task_id']}"}))
    return await events.announce_many("rectification.overdue", items, using_db=conn)


async def remind(today: dt.date, cal: WorkCalendar, reminder_days: int,
                 conn: Any = None) -> tuple[dict[str, int], dict[str, list[int]]]:
    """Tell unit officers N working days before a deadline and when it has passed.

    Each task is reminded once per deadline (the reminded_* column holds the deadline it was
    reminded for, so a new deadline re-arms it). An officer gets one message per stage and
    scan listing all their tasks, not one message per task.
    """
    soon = cal.add_working_days(today, reminder_days)
    officers = await officers_by_path()
    told = {"before": 0, "passed": 0}
    reminded: dict[str, list[int]] = {"before": [], "passed": []}
    q = Sql(conn or Tortoise.get_connection("default"))
    # Not yet reminded for this deadline (a new deadline empties the column). Plain SQL: the
    # "passed" predicate must read exactly as its partial index's.
    stages = {
        "before": (f"status = 'dispatched' AND deadline >= {q.p(1)} "
                   f"AND deadline <= {q.p(2)} AND reminded_before IS NULL",
                   [q.d(today), q.d(soon)]),
        "passed": (PASSED_UNREMINDED, []),
    }
    for stage, (where, args) in stages.items():
        column = f"reminded_{stage}"
        _, found = await q.run(
            f"SELECT t.id, t.number, t.title, t.deadline, u.path "
            f"FROM (SELECT * FROM {T} WHERE {where}) t "
            f"JOIN core_org_unit u ON u.id = t.unit_id", *args)
        if not found:
            continue
        rows = [{"id": r["id"], "number": r["number"], "title": r["title"],
                 "deadline": _as_date(r["deadline"]), "unit__path": r["path"]} for r in found]
        rows.sort(key=lambda r: (r["deadline"], r["id"]))
        per_user: dict[int, tuple[Any, list[dict]]] = {}
        for r in rows:
            for user in officers_for(r["unit__path"], officers):
                per_user.setdefault(user.id, (user, []))[1].append(r)
        for user, tasks in per_user.values():
            told[stage] += await _tell(user, stage, tasks, today, cal)
        # Set-based: every task of this stage now carries the deadline it was reminded for.
        reminded[stage] = [r["id"] for r in rows]
        ids, values = q.in_ids("id", 1, reminded[stage])
        await q.run(f"UPDATE {T} SET {column} = deadline WHERE {ids}", *values)
        await audit.record_many(
            "rectification.overdue_remind", T,
            ((r["number"], {column: None}, {column: r["deadline"].isoformat()}) for r in rows),
            reason=audit.said("rectification.said.reminded"))
    return told, reminded


def _as_date(value: Any) -> dt.date:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value  # SQLite: text


def _iso(value: Any) -> str | None:
    return None if value is None else _as_date(value).isoformat()


async def _tell(user: Any, stage: str, tasks: list[dict], today: dt.date,
                cal: WorkCalendar) -> int:
    lines = []
    for r in tasks:
        if stage == "before":
            left = cal.working_days_between(today, r["deadline"])
            lines.append(f"{r['number']} {r['title']}：期限 {r['deadline'].isoformat()}，"
                         f"还有 {left} 个工作日")
        else:
            lines.append(f"{r['number']} {r['title']}：期限 {r['deadline'].isoformat()}，已超期")
    subject = (f"{len(tasks)} 项整改任务即将到期" if stage == "before"
               else f"{len(tasks)} 项整改任务已超过整改期限")
    digest = hashlib.sha1(",".join(str(r["id"]) for r in tasks).encode()).hexdigest()[:12]
    link = (f"/rectification/tasks/{tasks[0]['id']}" if len(tasks) == 1
            else "/rectification/mine")
    return await notify.notify([user], subject, "\n".join(lines), link=link,
                               key=f"rectification.remind:{stage}:{today.isoformat()}:{digest}")


async def overdue_scan(today: dt.date | None = None, reminder_days: int = 3,
                       defn: Definition | None = None) -> dict[str, Any]:
    """The whole daily job; returns what it changed (recorded with the job run)."""
    today = today or local_date(now_utc())
    cal = await WorkCalendar.load()
    defn = defn or await current_definition()
    async with in_transaction() as conn:
        changes = Changes()
        marked = await mark_overdue(conn, today, changes)
        fresh: list[dict[str, Any]] = []  # this scan's crossings
        crossed = await record_crossings(conn, today, cal, defn.overdue_thresholds, fresh,
                                         changes)
        event_ids = await announce_crossings(conn, fresh, today, cal)
        # One entry per changed task, under its type and number, in the same transaction.
        await audit.record_many("rectification.overdue_scan", T, changes.items_for_audit(),
                                reason=audit.said("rectification.said.daily_scan"))
    # After the commit, so listeners see the crossings stored; a failure is retried by the
    # core.events job and makes this job's run "failed".
    delivery = await events.deliver(event_ids)
    announced = [r["task_id"] for r in fresh]
    async with in_transaction() as conn:  # one commit for all reminders (notify: savepoints)
        told, reminded = await remind(today, cal, reminder_days, conn)
    return {"date": today.isoformat(), "marked_overdue": len(marked),
            "thresholds_crossed": crossed, "announced": len(announced), "reminded": told,
            "events": delivery.summary()}
