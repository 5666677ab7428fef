"""One page of the long coverage lists, counted and sliced in the database: the
organizations, party organizations and instructors behind a figure (drill-down tabs), and
submission compliance per instructor with its filters."""

from __future__ import annotations

from typing import Any

from core.orgs import OrgUnit
from core.paging import Paged, clamp
from core.sql import Sql
from plugins.coverage import compliance, stats
from plugins.coverage.stats import PREDICATES, RATE_FIGURES, _rows, like_prefix, lit, rate

# The tabs of each kind of figure: a rate shows its numerator and denominator, the party
# organization count shows the party organizations and the organizations they cover.
TABS = {"rate": ("numerator", "denominator"), "party_orgs": ("party_orgs", "organizations"),
        "instructors": ("instructors",), "count": ("organizations",)}
COMPLIANCE_STATES = ("silent", "partial", "complete", "unassigned")


def figure_shape(figure: str) -> str:
    if figure in RATE_FIGURES:
        return "rate"
    if figure in ("party_orgs", "instructors"):
        return figure
    if figure not in PREDICATES:
        from core.errors import Invalid

        raise Invalid("bad_figure", f"figure: '{figure}' is not one of {', '.join(stats.FIGURES)}",
                      field="figure")
    return "count"


def _contains(column: str, text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{column} LIKE {lit('%' + escaped + '%')} ESCAPE '\\'"


def _org_search(q: str) -> str:
    q = (q or "").strip()
    if not q:
        return ""
    return f" AND ({_contains('o.name', q)} OR {like_prefix('o.uscc', q.upper())})"


async def _page(select: str, from_where: str, order: str, page: int, size: int,
                request: Any, total: int | None = None) -> Paged:
    """One page and the total; without a known total the page's rows carry it (a window
    count), so the filtered list is scanned once, not once to count and once to slice."""
    page, size = clamp(page, size)

    async def fetch(at: int, counted: bool) -> list[dict[str, Any]]:
        extra = ", COUNT(*) OVER () AS total_rows_" if counted else ""
        return await _rows(f"SELECT {select}{extra} {from_where} ORDER BY {order} "
                           f"LIMIT {int(size)} OFFSET {(at - 1) * int(size)}")

    if total is None:
        rows = await fetch(page, True)
        if rows:
            total = int(rows[0]["total_rows_"])
            for row in rows:
                row.pop("total_rows_", None)
            return Paged.of(rows, total, page, size, request)
        total = await _count(from_where)  # past the end (or nothing at all)
    page = min(page, max(1, -(-total // size)))
    return Paged.of(await fetch(page, False) if total else [], total, page, size, request)


def _orgs_from(src: stats.Source, unit: OrgUnit, kind: str | None, figure: str, q: str) -> str:
    return (f"FROM ({src.facts}) f JOIN coverage_org o ON o.id = f.org_id "
            "JOIN core_org_unit u ON u.id = f.community_id "
            f"WHERE {like_prefix('u.path', unit.path)}{stats._kind_filter(kind)} "
            f"AND {PREDICATES[figure]}{_org_search(q)}")


async def _org_counts(src: stats.Source, unit: OrgUnit, kind: str | None, figure: str
                      ) -> tuple[int, int]:
    """(organizations of the unit and kind, those the figure counts) in one scan."""
    row = (await _rows(
        f"SELECT COUNT(*) AS n, SUM(CASE WHEN {PREDICATES[figure]} THEN 1 ELSE 0 END) AS m "
        f"FROM ({src.facts}) f JOIN core_org_unit u ON u.id = f.community_id "
        f"WHERE {like_prefix('u.path', unit.path)}{stats._kind_filter(kind)}"))[0]
    return int(row["n"] or 0), int(row["m"] or 0)


ORG_COLUMNS = ("f.org_id AS id, o.uscc AS uscc, o.name AS name, f.kind AS kind, "
               "u.code AS community_code, u.name AS community_name, "
               "f.formal_members AS formal_members, f.own AS own, f.joint AS joint, "
               "f.instr AS instr, f.should AS should, f.demo AS demo")


def _party_from(src: stats.Source, unit: OrgUnit, kind: str | None, q: str) -> str:
    search = f" AND {_contains('p.name', q.strip())}" if (q or "").strip() else ""
    return (f"FROM (SELECT pl.party_org_id AS id, pl.formation AS formation, "
            "COUNT(DISTINCT f.org_id) AS organizations "
            f"FROM ({src.orgs}) f JOIN ({src.party_links}) pl ON pl.organization_id = f.org_id "
            "JOIN core_org_unit u ON u.id = f.community_id "
            f"WHERE {like_prefix('u.path', unit.path)}{stats._kind_filter(kind)} "
            "GROUP BY pl.party_org_id, pl.formation) c "
            f"LEFT JOIN coverage_party_org p ON p.id = c.id WHERE 1 = 1{search}")


def _instructors_from(src: stats.Source, unit: OrgUnit, kind: str | None, q: str) -> str:
    q = (q or "").strip()
    search = f" AND ({_contains('usr.username', q)} OR {_contains('usr.display_name', q)})" \
        if q else ""
    return (f"FROM (SELECT a.instructor_id AS id, COUNT(DISTINCT f.org_id) AS organizations "
            f"FROM ({src.facts}) f JOIN ({src.assignments}) a ON a.organization_id = f.org_id "
            "JOIN core_org_unit u ON u.id = f.community_id "
            f"WHERE {like_prefix('u.path', unit.path)}{stats._kind_filter(kind)} "
            "GROUP BY a.instructor_id) c JOIN core_user usr ON usr.id = c.id "
            f"WHERE 1 = 1{search}")


async def _count(from_where: str) -> int:
    return int((await _rows(f"SELECT COUNT(*) AS n {from_where}"))[0]["n"] or 0)


async def drilldown_page(period_code: str, unit: OrgUnit, kind: str | None, figure: str,
                         tab: str | None, q: str, page: int, size: int, request: Any
                         ) -> dict[str, Any]:
    """The figure's value, each tab's count (unfiltered) and one page of the chosen tab."""
    shape = figure_shape(figure)
    stats._kind_filter(kind)
    tabs = TABS[shape]
    tab = tab if tab in tabs else tabs[0]
    src = await stats.source_for(period_code)
    org_figure = {"rate": RATE_FIGURES.get(figure), "party_orgs": "org_covered"}.get(shape, figure)
    sources = {
        "numerator": lambda s: _orgs_from(src, unit, kind, org_figure, s),
        "denominator": lambda s: _orgs_from(src, unit, kind, "orgs", s),
        "organizations": lambda s: _orgs_from(src, unit, kind, org_figure, s),
        "party_orgs": lambda s: _party_from(src, unit, kind, s),
        "instructors": lambda s: _instructors_from(src, unit, kind, s),
    }
    if shape in ("rate", "count"):  # both tabs' counts from one scan of the facts
        every, counted = await _org_counts(src, unit, kind, org_figure)
        counts = {"numerator": counted, "denominator": every} if shape == "rate" else {
            "organizations": counted}
    else:
        counts = {t: await _count(sources[t]("")) for t in tabs}
    if shape == "rate":
        value = rate(counts["numerator"], counts["denominator"])
        value = float(value) if value is not None else None
    else:
        value = counts[tabs[0]]
    from_where = sources[tab](q)
    known = None if (q or "").strip() else counts[tab]
    if tab == "party_orgs":
        pager = await _page("c.id AS id, p.name AS name, p.type AS type, c.formation AS formation, "
                            "p.established AS established, p.dissolved_on AS dissolved_on, "
                            "c.organizations AS organizations",
                            from_where, "c.formation DESC, p.name, c.id", page, size, request,
                            known)
        for row in pager.items:
            row["name"] = row["name"] or f"#{row['id']}"
            for day in ("established", "dissolved_on"):  # SQLite gives text, PostgreSQL dates
                row[day] = str(row[day]) if row[day] else None
    elif tab == "instructors":
        pager = await _page("usr.id AS id, usr.username AS username, "
                            "usr.display_name AS display_name, c.organizations AS organizations",
                            from_where, "usr.username", page, size, request, known)
    else:
        pager = await _page(ORG_COLUMNS, from_where, "u.path, o.uscc", page, size, request, known)
        for row in pager.items:
            for flag in ("own", "joint", "instr", "should", "demo"):
                row[flag] = bool(row[flag])
    return {"figure": figure, "value": value, "shape": shape, "tabs": tabs, "tab": tab,
            "counts": counts, "pager": pager}


# -- compliance ----------------------------------------------------------------------------
def _state_filter(state: str | None) -> str:
    return {
        "silent": "assigned > 0 AND reported = 0",
        "partial": "reported > 0 AND reported < assigned",
        "complete": "assigned > 0 AND reported = assigned",
        "unassigned": "assigned = 0",
    }.get(state or "", "1 = 1")


async def compliance_page(period_code: str, unit: str, state: str | None, q: str, page: int,
                          size: int, request: Any) -> Paged:
    """Instructors with their assigned and reported organizations; `unit` (a district or
    community code, or its first digits) narrows the organizations counted and keeps the
    instructors who have any there."""
    src = await stats.source_for(period_code)
    codes = await compliance.report_codes(period_code)
    unit, q = (unit or "").strip(), (q or "").strip()
    in_unit = ""
    if unit:
        in_unit = (" AND f.community_id IN (SELECT id FROM core_org_unit WHERE "
                   f"{like_prefix('code', unit)})")
    search = f" AND ({_contains('usr.username', q)} OR {_contains('usr.display_name', q)})" \
        if q else ""
    having = " AND assigned > 0" if unit else ""
    from_where = f"""FROM (
SELECT usr.id AS id, usr.username AS username, usr.display_name AS display_name,
       COUNT(DISTINCT f.org_id) AS assigned,
       COUNT(DISTINCT CASE WHEN r.organization_id IS NOT NULL THEN f.org_id END) AS reported,
       MAX(r.last_at) AS last_at
FROM core_user usr
LEFT JOIN ({src.assignments}) a ON a.instructor_id = usr.id
LEFT JOIN ({src.facts}) f ON f.org_id = a.organization_id{in_unit}
LEFT JOIN ({compliance._reports_sql(codes)}) r ON r.organization_id = f.org_id
WHERE usr.role = 'instructor' AND usr.is_active = {Sql().true}{search}
GROUP BY usr.id, usr.username, usr.display_name) c
WHERE {_state_filter(state)}{having}"""
    pager = await _page("c.*", from_where, "c.username", page, size, request)
    for row in pager.items:
        row["assigned"], row["reported"] = int(row["assigned"] or 0), int(row["reported"] or 0)
        row["rate"] = rate(row["reported"], row["assigned"])
        row["last_report_at"] = compliance._as_datetime(row["last_at"])
    return pager
