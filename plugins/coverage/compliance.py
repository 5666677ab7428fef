"""Submission compliance (报送率): of the organizations an instructor covers in a period,
how many have a report (submitted or confirmed; a returned one does not count until it is
sent again). Computed in the database from the same facts as the coverage figures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from core.orgs import OrgUnit, Period
from core.sql import Sql
from plugins.coverage.stats import _rows, ancestors_cte, lit, rate, source_for

COUNTED = ("submitted", "confirmed")


async def report_codes(period_code: str) -> list[str]:
    """The period and every period inside it: a year's compliance counts its quarters' reports."""
    period = await Period.get(code=period_code)
    inside = await Period.filter(start__gte=period.start, end__lte=period.end).values_list(
        "code", flat=True)
    return sorted(set(inside) | {period_code})


def _reports_sql(codes: list[str]) -> str:
    statuses = ", ".join(lit(s) for s in COUNTED)
    return ("SELECT organization_id, MAX(submitted_at) AS last_at FROM coverage_report "
            f"WHERE period_code IN ({', '.join(lit(c) for c in codes)}) "
            f"AND status IN ({statuses}) GROUP BY organization_id")


def _as_datetime(value: Any) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


async def by_instructor(period_code: str) -> list[dict[str, Any]]:
    """Every instructor, silent ones included: assigned, reported, rate, last report."""
    src = await source_for(period_code)
    codes = await report_codes(period_code)
    sql = f"""
WITH f AS ({src.facts}), a AS ({src.assignments}), r AS ({_reports_sql(codes)})
SELECT usr.id AS id, usr.username AS username, usr.display_name AS display_name,
       COUNT(DISTINCT f.org_id) AS assigned,
       COUNT(DISTINCT CASE WHEN r.organization_id IS NOT NULL THEN f.org_id END) AS reported,
       MAX(r.last_at) AS last_at
FROM core_user usr
LEFT JOIN a ON a.instructor_id = usr.id
LEFT JOIN f ON f.org_id = a.organization_id
LEFT JOIN r ON r.organization_id = f.org_id
WHERE usr.role = 'instructor' AND usr.is_active = {_true()}
GROUP BY usr.id, usr.username, usr.display_name
ORDER BY usr.username"""
    out = []
    for row in await _rows(sql):
        assigned, reported = int(row["assigned"] or 0), int(row["reported"] or 0)
        out.append({"id": row["id"], "username": row["username"],
                    "display_name": row["display_name"], "assigned": assigned,
                    "reported": reported, "rate": rate(reported, assigned),
                    "last_report_at": _as_datetime(row["last_at"])})
    return out


async def silent_count(period_code: str) -> int:
    """How many active instructors have organizations in the period and reported none: the
    dashboard's 未报送, counted in the database (the per-instructor list is twice the work)."""
    src = await source_for(period_code)
    codes = await report_codes(period_code)
    sql = f"""
WITH f AS ({src.facts}), a AS ({src.assignments}), r AS ({_reports_sql(codes)}),
mine AS (SELECT a.instructor_id AS uid,
                MAX(CASE WHEN r.organization_id IS NULL THEN 0 ELSE 1 END) AS any_reported
         FROM a JOIN f ON f.org_id = a.organization_id
         LEFT JOIN r ON r.organization_id = f.org_id
         GROUP BY a.instructor_id)
SELECT COUNT(*) AS n FROM mine JOIN core_user usr ON usr.id = mine.uid
WHERE usr.role = 'instructor' AND usr.is_active = {_true()} AND mine.any_reported = 0"""
    return int((await _rows(sql))[0]["n"] or 0)


def _true() -> str:
    return Sql().true


async def by_unit(period_code: str, unit_ids: list[int]) -> dict[int, tuple[int, int]]:
    """{unit id: (organizations with an instructor that reported, organizations with one)}."""
    if not unit_ids:
        return {}
    src = await source_for(period_code)
    codes = await report_codes(period_code)
    out = {int(i): (0, 0) for i in unit_ids}
    anc = await ancestors_cte(unit_ids)
    if anc is None:
        return out
    sql = f"""
WITH {anc}, f AS ({src.facts}), r AS ({_reports_sql(codes)})
SELECT anc.unit_id AS unit_id, COUNT(*) AS assigned,
       SUM(CASE WHEN r.organization_id IS NOT NULL THEN 1 ELSE 0 END) AS reported
FROM f JOIN anc ON anc.member_id = f.community_id
LEFT JOIN r ON r.organization_id = f.org_id
WHERE f.instr = 1
GROUP BY anc.unit_id"""
    for row in await _rows(sql):
        out[row["unit_id"]] = (int(row["reported"] or 0), int(row["assigned"] or 0))
    return out


async def unit_rate(period_code: str, unit: OrgUnit) -> Decimal | None:
    reported, assigned = (await by_unit(period_code, [unit.id]))[unit.id]
    return rate(reported, assigned)
