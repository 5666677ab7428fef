"""Coverage figures computed in the database, and the organizations behind each figure.

One SQL text serves SQLite and PostgreSQL. Facts are one row per organization counted in
the period: (org_id, kind, community_id, formal_members, own, joint, instr, should) as 0/1
integers. An open period reads them live from the registry as of the period's last day; a
closed period reads the rows frozen when it closed, so its figures never change afterwards.
Party organizations and instructors are counted distinct, never summed: one joint party
organization covering two enterprises (or an enterprise and a social organization) is one.
Subtrees come from the units' materialized paths (each community paired with all its
ancestors), so every unit's figures are one GROUP BY.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tortoise import Tortoise
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from core import audit
from core.errors import Invalid, NotFound
from core.orgs import OrgUnit, Period, parse_period
from plugins.coverage.models import KINDS, PeriodFreeze

TOTAL = "total"
SCOPES = KINDS + (TOTAL,)
COUNT_FIGURES = ("orgs", "own", "joint", "org_covered", "instructor_only", "work_covered",
                 "uncovered", "should_establish", "demo_sites")
RATE_FIGURES = {"org_rate": "org_covered", "work_rate": "work_covered"}
DISTINCT_FIGURES = ("party_orgs", "instructors")  # distinct people/party orgs, not organizations
FIGURES = COUNT_FIGURES + tuple(RATE_FIGURES) + DISTINCT_FIGURES
SUMMED = ("orgs", "own", "joint", "instructor_only", "uncovered", "should_establish",
          "demo_sites")

# The rules, once: each figure is a predicate over one fact row `f`.
PREDICATES = {
    "orgs": "1 = 1",
    "own": "f.own = 1",
    "joint": "f.own = 0 AND f.joint = 1",
    "org_covered": "(f.own = 1 OR f.joint = 1)",
    "instructor_only": "f.own = 0 AND f.joint = 0 AND f.instr = 1",
    "work_covered": "(f.own = 1 OR f.joint = 1 OR f.instr = 1)",
    "uncovered": "f.own = 0 AND f.joint = 0 AND f.instr = 0",
    "should_establish": "f.should = 1",
    "demo_sites": "f.demo = 1",
}
HUNDRED = Decimal(100)
CENT = Decimal("0.01")


def rate(numerator: int, denominator: int) -> Decimal | None:
    """A percentage with two decimals, rounded half up; None when there is nothing to count."""
    if not denominator:
        return None
    return (Decimal(numerator) * HUNDRED / Decimal(denominator)).quantize(CENT, ROUND_HALF_UP)


@dataclass
class Figures:
    orgs: int = 0
    own: int = 0
    joint: int = 0
    instructor_only: int = 0
    uncovered: int = 0
    should_establish: int = 0
    demo_sites: int = 0
    instructors: int = 0
    party_orgs: int = 0

    @property
    def org_covered(self) -> int:
        return self.own + self.joint

    @property
    def work_covered(self) -> int:
        return self.own + self.joint + self.instructor_only

    @property
    def org_rate(self) -> Decimal | None:
        return rate(self.org_covered, self.orgs)

    @property
    def work_rate(self) -> Decimal | None:
        return rate(self.work_covered, self.orgs)

    def add(self, other: Figures) -> None:
        for name in SUMMED:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in COUNT_FIGURES}
        for name in DISTINCT_FIGURES:
            out[name] = getattr(self, name)
        for name in RATE_FIGURES:
            value = getattr(self, name)
            out[name] = float(value) if value is not None else None
        return out


@dataclass
class UnitFigures:
    unit_id: int
    by_kind: dict[str, Figures] = field(default_factory=lambda: {k: Figures() for k in SCOPES})

    def __getitem__(self, kind: str) -> Figures:
        return self.by_kind[kind]


# -- SQL helpers ---------------------------------------------------------------------------
def lit(text: str) -> str:
    """A string literal; values reaching here are codes and paths, quoted all the same."""
    return "'" + str(text).replace("'", "''") + "'"


def like_prefix(column: str, prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{column} LIKE {lit(escaped + '%')} ESCAPE '\\'"


def _date(day: dt.date) -> str:
    return lit(day.isoformat())


def live_facts_sql(as_of: dt.date, min_formal: int) -> str:
    """Every organization counted on `as_of`, with its coverage flags, from the registry."""
    d = _date(as_of)
    return f"""
SELECT o.id AS org_id, o.kind AS kind, o.community_id AS community_id,
       o.formal_members AS formal_members,
       COALESCE(po.own, 0) AS own, COALESCE(po.joint, 0) AS joint,
       CASE WHEN ia.organization_id IS NULL THEN 0 ELSE 1 END AS instr,
       CASE WHEN o.formal_members >= {int(min_formal)} AND COALESCE(po.own, 0) = 0
            THEN 1 ELSE 0 END AS should,
       CASE WHEN o.demo_site THEN 1 ELSE 0 END AS demo
FROM coverage_org o
LEFT JOIN (
    SELECT pl.organization_id AS organization_id,
           MAX(CASE WHEN pl.formation = 'standalone' THEN 1 ELSE 0 END) AS own,
           MAX(CASE WHEN pl.formation = 'joint' THEN 1 ELSE 0 END) AS joint
    FROM ({live_party_links_sql(as_of)}) pl
    GROUP BY pl.organization_id
) po ON po.organization_id = o.id
LEFT JOIN ({live_assignments_sql(as_of, distinct_orgs=True)}) ia ON ia.organization_id = o.id
WHERE (o.valid_from IS NULL OR o.valid_from <= {d})
  AND (o.closed_on IS NULL OR o.closed_on > {d})"""


def live_orgs_sql(as_of: dt.date) -> str:
    d = _date(as_of)
    return ("SELECT id AS org_id, kind, community_id FROM coverage_org "
            f"WHERE (valid_from IS NULL OR valid_from <= {d}) "
            f"AND (closed_on IS NULL OR closed_on > {d})")


def live_party_links_sql(as_of: dt.date) -> str:
    """(organization_id, party_org_id, formation) of party organizations existing on `as_of`."""
    d = _date(as_of)
    return ("SELECT l.organization_id AS organization_id, l.party_org_id AS party_org_id, "
            "p.formation AS formation FROM coverage_party_org_link l "
            "JOIN coverage_party_org p ON p.id = l.party_org_id "
            f"WHERE (p.established IS NULL OR p.established <= {d}) "
            f"AND (p.dissolved_on IS NULL OR p.dissolved_on > {d})")


def live_assignments_sql(as_of: dt.date, distinct_orgs: bool = False) -> str:
    d = _date(as_of)
    cols = "DISTINCT organization_id" if distinct_orgs else "organization_id, instructor_id"
    return (f"SELECT {cols} FROM coverage_assignment "
            f"WHERE (start_on IS NULL OR start_on <= {d}) AND (end_on IS NULL OR end_on > {d})")


def frozen_facts_sql(code: str) -> str:
    return ("SELECT organization_id AS org_id, kind, community_id, formal_members, own, joint, "
            f"instr, should, demo FROM coverage_period_fact WHERE period_code = {lit(code)}")


def frozen_party_links_sql(code: str) -> str:
    return ("SELECT organization_id, party_org_id, formation FROM coverage_period_party_org "
            f"WHERE period_code = {lit(code)}")


def frozen_assignments_sql(code: str) -> str:
    return ("SELECT organization_id, instructor_id FROM coverage_period_instructor "
            f"WHERE period_code = {lit(code)}")


async def ancestors_cte(unit_ids: list[int] | None = None) -> str | None:
    """`anc(unit_id, member_id)`: each community paired with itself and every ancestor, from
    the units' materialized paths, as a VALUES list (None when there is nothing to pair).

    Organizations sit in communities, so only communities are members. Exact rows matter:
    a recursive CTE here made PostgreSQL guess 150,000 pairs for 4,400 and sort on disk.
    """
    from core.orgs import OrgUnit

    units = await OrgUnit.all().values_list("id", "code", "path", "level")
    by_code = {code: uid for uid, code, _, _ in units}
    wanted = None if unit_ids is None else {int(i) for i in unit_ids}
    pairs = []
    for uid, _, path, level in units:
        if level != "community":
            continue
        for code in path.strip("/").split("/"):
            ancestor = by_code.get(code)
            if ancestor is not None and (wanted is None or ancestor in wanted):
                pairs.append(f"({ancestor}, {uid})")
    if not pairs:
        return None
    return f"anc(unit_id, member_id) AS (VALUES {', '.join(pairs)})"


async def _rows(sql: str) -> list[dict[str, Any]]:
    return await Tortoise.get_connection("default").execute_query_dict(sql)


# -- period source -------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    """Where a period's facts come from."""

    period: str
    as_of: dt.date
    frozen: bool
    facts: str
    assignments: str
    orgs: str  # (org_id, kind, community_id): the denominator without the coverage flags
    party_links: str  # (organization_id, party_org_id, formation) existing at period end


async def min_formal_members() -> int:
    from plugins.coverage.config import definition

    return (await definition()).should_establish_min_formal


async def source_for(period_code: str) -> Source:
    try:
        parse_period(period_code)
    except ValueError as exc:
        raise Invalid("bad_period", str(exc), field="period") from None
    period = await Period.get_or_none(code=period_code)
    if period is None:
        raise NotFound("unknown_period", f"period: no period '{period_code}'", field="period")
    if period.is_closed:
        await freeze(period)
        return Source(period.code, period.end, True, frozen_facts_sql(period.code),
                      frozen_assignments_sql(period.code), frozen_facts_sql(period.code),
                      frozen_party_links_sql(period.code))
    min_formal = await min_formal_members()
    return Source(period.code, period.end, False, live_facts_sql(period.end, min_formal),
                  live_assignments_sql(period.end), live_orgs_sql(period.end),
                  live_party_links_sql(period.end))


# -- freezing ------------------------------------------------------------------------------
async def freeze(period: Period) -> bool:
    """Store the facts of a closed period once; later registry edits never reach them."""
    if await PeriodFreeze.exists(period_code=period.code):
        return False
    min_formal = await min_formal_members()
    code = lit(period.code)
    try:
        async with in_transaction() as conn:
            await PeriodFreeze.create(period_code=period.code, as_of=period.end, using_db=conn)
            await conn.execute_query(f"""
INSERT INTO coverage_period_fact
    (period_code, organization_id, kind, community_id, formal_members, own, joint, instr, should,
     demo)
SELECT {code}, f.org_id, f.kind, f.community_id, f.formal_members, f.own, f.joint, f.instr,
       f.should, f.demo
FROM ({live_facts_sql(period.end, min_formal)}) f""")
            await conn.execute_query(f"""
INSERT INTO coverage_period_instructor (period_code, organization_id, instructor_id)
SELECT {code}, a.organization_id, a.instructor_id
FROM ({live_assignments_sql(period.end)}) a
JOIN coverage_period_fact pf ON pf.organization_id = a.organization_id
 AND pf.period_code = {code}""")
            await conn.execute_query(f"""
INSERT INTO coverage_period_party_org (period_code, organization_id, party_org_id, formation)
SELECT {code}, pl.organization_id, pl.party_org_id, pl.formation
FROM ({live_party_links_sql(period.end)}) pl
JOIN coverage_period_fact pf ON pf.organization_id = pl.organization_id
 AND pf.period_code = {code}""")
            count = (await conn.execute_query_dict(
                f"SELECT COUNT(*) AS n FROM coverage_period_fact WHERE period_code = {code}"))[0]["n"]
            await PeriodFreeze.filter(period_code=period.code).using_db(conn).update(
                organizations=count)
            await audit.record("coverage.period.freeze", "coverage_period_freeze", period.code,
                               after={"as_of": period.end, "organizations": count})
    except IntegrityError:
        return False  # another process froze it first
    return True


async def freeze_closed_periods() -> dict[str, list[str]]:
    """Freeze every closed period not yet frozen; drop the frozen rows of reopened periods."""
    closed = set(await Period.filter(status="closed").values_list("code", flat=True))
    frozen = set(await PeriodFreeze.all().values_list("period_code", flat=True))
    reopened = sorted(frozen - closed)
    if reopened:
        async with in_transaction() as conn:
            for code in reopened:
                await conn.execute_query(
                    f"DELETE FROM coverage_period_fact WHERE period_code = {lit(code)}")
                await conn.execute_query(
                    f"DELETE FROM coverage_period_instructor WHERE period_code = {lit(code)}")
                await conn.execute_query(
                    f"DELETE FROM coverage_period_party_org WHERE period_code = {lit(code)}")
                await PeriodFreeze.filter(period_code=code).using_db(conn).delete()
                await audit.record("coverage.period.unfreeze", "coverage_period_freeze", code,
                                   reason=audit.said("coverage.said.period_reopened"))
    newly = []
    for period in await Period.filter(code__in=sorted(closed - frozen)):
        if await freeze(period):
            newly.append(period.code)
    return {"frozen": newly, "reopened": reopened}


# -- figures -------------------------------------------------------------------------------
def _sum(pred: str) -> str:
    return f"SUM(CASE WHEN {pred} THEN 1 ELSE 0 END)"


@dataclass
class _Tree:
    """The units as far as the figures need them: each community's ancestors (itself
    included) from its materialized path, and each unit's nearest ancestor that exists."""

    communities: dict[int, list[int]]  # community id -> [its own id and every ancestor id]
    parent: dict[int, int]
    depth: dict[int, int]


async def _tree() -> _Tree:
    units = await OrgUnit.all().values_list("id", "code", "path", "level")
    by_code = {code: uid for uid, code, _, _ in units}
    communities, parent, depth = {}, {}, {}
    for uid, _, path, level in units:
        chain = [by_code[c] for c in path.strip("/").split("/") if c in by_code]
        depth[uid] = len(chain)
        above = [a for a in chain if a != uid]
        if above:
            parent[uid] = above[-1]
        if level == "community":
            communities[uid] = chain
    return _Tree(communities, parent, depth)


def _in_list(column: str, ids: list[int]) -> str:
    return f"{column} IN ({', '.join(str(int(i)) for i in ids)})" if ids else "1 = 0"


async def unit_figures(period_code: str, unit_ids: list[int] | None = None
                       ) -> dict[int, UnitFigures]:
    """Figures of each unit's whole subtree, per kind and in total.

    Organizations sit in communities, so the database counts once per community and kind
    (one GROUP BY) and the counts are summed up the tree here. Distinct instructors and
    party organizations do not add up: the database lists each community's distinct ones
    per kind, and the sets are unioned upward, child into parent, deepest units first.
    Pairing every community with every ancestor in SQL instead cost four to five times as
    much at province scale.
    """
    src = await source_for(period_code)
    tree = await _tree()
    wanted = None if unit_ids is None else {int(i) for i in unit_ids}
    out: dict[int, UnitFigures] = {} if wanted is None else {i: UnitFigures(i) for i in wanted}
    members = tree.communities
    if wanted is not None:
        members = {c: chain for c, chain in members.items() if wanted.intersection(chain)}
        if not members:
            return out
    where = "" if wanted is None else f" WHERE {_in_list('x.community_id', sorted(members))}"
    names = tuple(n for n in SUMMED if n != "orgs")
    counted = ", ".join(f"{_sum(PREDICATES[name])} AS {name}" for name in names)
    conn = Tortoise.get_connection("default")
    _, counts = await conn.execute_query(f"""
SELECT f.community_id, f.kind, COUNT(*), {counted}
FROM ({src.facts}) f{where.replace('x.', 'f.')}
GROUP BY f.community_id, f.kind""")
    # No DISTINCT or UNION: the sets below remove duplicates for less than a sort would cost.
    _, teachers = await conn.execute_query(f"""
SELECT x.community_id, x.kind, a.instructor_id
FROM ({src.orgs}) x JOIN ({src.assignments}) a ON a.organization_id = x.org_id{where}""")
    _, parties = await conn.execute_query(f"""
SELECT x.community_id, x.kind, pl.party_org_id
FROM ({src.orgs}) x JOIN ({src.party_links}) pl ON pl.organization_id = x.org_id{where}""")
    fields = ("orgs", *names)
    sums: dict[tuple[int, str], list[int]] = {}
    for row in counts:
        chain = members.get(row[0])
        if chain is None:
            continue  # organizations of a unit that is not a community are not counted
        values = [int(v or 0) for v in row[2:]]
        for uid in chain:
            if wanted is not None and uid not in wanted:
                continue
            for kind in (row[1], TOTAL):
                acc = sums.get((uid, kind))
                if acc is None:
                    sums[(uid, kind)] = list(values)
                else:
                    for i, value in enumerate(values):
                        acc[i] += value
    for (uid, kind), values in sums.items():
        figures = out.setdefault(uid, UnitFigures(uid))[kind]
        for name, value in zip(fields, values, strict=True):
            setattr(figures, name, value)
    for what, rows in (("instructors", teachers), ("party_orgs", parties)):
        for uid, by_kind in _union_up(rows, members, tree).items():
            if wanted is not None and uid not in wanted:
                continue
            unit = out.setdefault(uid, UnitFigures(uid))
            for kind, who in by_kind.items():
                setattr(unit[kind], what, len(who))
    return out


def _union_up(rows: Any, members: dict[int, list[int]], tree: _Tree
              ) -> dict[int, dict[str, set[int]]]:
    """{unit: {kind and total: the distinct ids}} from (community, kind, id) rows: each
    community's sets, then each unit's sets unioned into its parent's, deepest first."""
    sets: dict[int, dict[str, set[int]]] = {}
    for community_id, kind, who in rows:
        mine = sets.get(community_id)
        if mine is None:
            if community_id not in members:
                continue  # an organization of a unit that is not a community
            mine = sets[community_id] = {}
        found = mine.get(kind)
        if found is None:
            mine[kind] = {who}
        else:
            found.add(who)
    for mine in sets.values():
        mine[TOTAL] = set().union(*mine.values())
    order = sorted({u for c in sets for u in members[c]}, key=lambda u: -tree.depth[u])
    for uid in order:  # children before parents, so each set is whole before it moves up
        up, mine = tree.parent.get(uid), sets.get(uid)
        if up is None or mine is None:
            continue
        above = sets.setdefault(up, {})
        for key, who in mine.items():
            if key in above:
                above[key] |= who
            else:
                above[key] = set(who)
    return sets


async def figures_for(period_code: str, unit: OrgUnit) -> UnitFigures:
    return (await unit_figures(period_code, [unit.id]))[unit.id]


# -- drill-down ----------------------------------------------------------------------------
def _kind_filter(kind: str | None) -> str:
    if kind in (None, "", TOTAL):
        return ""
    if kind not in KINDS:
        raise Invalid("bad_kind", f"kind: '{kind}' is not one of {', '.join(SCOPES)}", field="kind")
    return f" AND f.kind = {lit(kind)}"


async def organizations_behind(period_code: str, unit: OrgUnit, kind: str | None,
                               figure: str) -> list[dict[str, Any]]:
    """The exact organizations a count figure counts, in unit-path and credit-code order."""
    if figure not in PREDICATES:
        raise Invalid("bad_figure", f"figure: '{figure}' is not one of {', '.join(FIGURES)}",
                      field="figure")
    src = await source_for(period_code)
    sql = f"""
WITH f AS ({src.facts})
SELECT f.org_id AS id, o.uscc AS uscc, o.name AS name, f.kind AS kind, u.code AS community_code,
       u.name AS community_name, f.formal_members AS formal_members, f.own AS own,
       f.joint AS joint, f.instr AS instr, f.should AS should, f.demo AS demo
FROM f JOIN coverage_org o ON o.id = f.org_id JOIN core_org_unit u ON u.id = f.community_id
WHERE {like_prefix('u.path', unit.path)}{_kind_filter(kind)} AND {PREDICATES[figure]}
ORDER BY u.path, o.uscc"""
    rows = await _rows(sql)
    for row in rows:
        for flag in ("own", "joint", "instr", "should", "demo"):
            row[flag] = bool(row[flag])
    return rows


async def instructors_behind(period_code: str, unit: OrgUnit, kind: str | None
                             ) -> list[dict[str, Any]]:
    src = await source_for(period_code)
    sql = f"""
WITH f AS ({src.facts}), a AS ({src.assignments})
SELECT usr.id AS id, usr.username AS username, usr.display_name AS display_name,
       COUNT(DISTINCT f.org_id) AS organizations
FROM f JOIN a ON a.organization_id = f.org_id JOIN core_user usr ON usr.id = a.instructor_id
JOIN core_org_unit u ON u.id = f.community_id
WHERE {like_prefix('u.path', unit.path)}{_kind_filter(kind)}
GROUP BY usr.id, usr.username, usr.display_name
ORDER BY usr.username"""
    return await _rows(sql)


async def party_orgs_behind(period_code: str, unit: OrgUnit, kind: str | None
                            ) -> list[dict[str, Any]]:
    """The party organizations counted, each with how many of the unit's organizations of
    the kind it covers. A party organization deleted after its period froze keeps its id."""
    src = await source_for(period_code)
    sql = f"""
WITH f AS ({src.orgs}), pl AS ({src.party_links})
SELECT pl.party_org_id AS id, p.name AS name, p.type AS type, pl.formation AS formation,
       p.established AS established, p.dissolved_on AS dissolved_on,
       COUNT(DISTINCT f.org_id) AS organizations
FROM f JOIN pl ON pl.organization_id = f.org_id JOIN core_org_unit u ON u.id = f.community_id
LEFT JOIN coverage_party_org p ON p.id = pl.party_org_id
WHERE {like_prefix('u.path', unit.path)}{_kind_filter(kind)}
GROUP BY pl.party_org_id, p.name, p.type, pl.formation, p.established, p.dissolved_on
ORDER BY pl.formation DESC, p.name, pl.party_org_id"""
    rows = await _rows(sql)
    for row in rows:
        row["name"] = row["name"] or f"#{row['id']}"
        for day in ("established", "dissolved_on"):  # SQLite gives text, PostgreSQL dates
            row[day] = str(row[day]) if row[day] is not None else None
    return rows


async def drilldown(period_code: str, unit: OrgUnit, kind: str | None, figure: str
                    ) -> dict[str, Any]:
    """Numerator and denominator organizations of a rate, or the members of a count."""
    _kind_filter(kind)
    if figure in RATE_FIGURES:
        numerator = await organizations_behind(period_code, unit, kind, RATE_FIGURES[figure])
        denominator = await organizations_behind(period_code, unit, kind, "orgs")
        value = rate(len(numerator), len(denominator))
        return {"figure": figure, "value": float(value) if value is not None else None,
                "numerator": numerator, "denominator": denominator}
    if figure == "party_orgs":
        parties = await party_orgs_behind(period_code, unit, kind)
        covered = await organizations_behind(period_code, unit, kind, "org_covered")
        return {"figure": figure, "value": len(parties), "party_orgs": parties,
                "organizations": covered}
    if figure == "instructors":
        people = await instructors_behind(period_code, unit, kind)
        return {"figure": figure, "value": len(people), "instructors": people}
    orgs = await organizations_behind(period_code, unit, kind, figure)
    return {"figure": figure, "value": len(orgs), "organizations": orgs}
