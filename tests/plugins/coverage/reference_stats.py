"""The coverage engine as it was before the roll-up: every unit's figures in the database, from
each community paired with all its ancestors (counts summed per community first, distinct
instructors and party organizations grouped per unit). Kept as the reference the roll-up
engine must agree with, figure for figure."""

from __future__ import annotations

from plugins.coverage.models import KINDS
from plugins.coverage.stats import (
    PREDICATES,
    SUMMED,
    TOTAL,
    UnitFigures,
    _rows,
    ancestors_cte,
    lit,
    source_for,
)


def _sum(pred: str) -> str:
    return f"SUM(CASE WHEN {pred} THEN 1 ELSE 0 END)"


async def unit_figures(period_code: str, unit_ids: list[int] | None = None
                       ) -> dict[int, UnitFigures]:
    """Figures of each unit's whole subtree, per kind and in total.

    Counts add up, so they are summed per community first and then up the tree (a few
    thousand rows instead of one per organization and ancestor). Distinct instructors and
    party organizations do not add up across kinds or units: they are counted from distinct
    (unit, instructor | party organization) rows that carry one flag per kind, so one
    grouping gives the per-kind and the all-kind counts.
    """
    src = await source_for(period_code)
    out: dict[int, UnitFigures] = {}
    if unit_ids is not None:
        out = {int(i): UnitFigures(int(i)) for i in unit_ids}
    anc = await ancestors_cte(unit_ids)
    if anc is None:
        return out
    names = tuple(n for n in SUMMED if n != "orgs")
    per_community = ", ".join(f"{_sum(PREDICATES[name])} AS {name}" for name in names)
    rolled = ", ".join(f"SUM(c.{name}) AS {name}" for name in names)
    sql = f"""
WITH {anc}, f AS ({src.facts}),
c AS (SELECT f.community_id AS community_id, f.kind AS kind, COUNT(*) AS orgs, {per_community}
      FROM f GROUP BY f.community_id, f.kind)
SELECT anc.unit_id AS unit_id, c.kind AS kind, SUM(c.orgs) AS orgs, {rolled}
FROM c JOIN anc ON anc.member_id = c.community_id
GROUP BY anc.unit_id, c.kind"""
    sql_distinct = f"""
WITH {anc}, o AS ({src.orgs}),
t AS (SELECT o.community_id AS community_id, o.kind AS kind, 'instructors' AS what,
             a.instructor_id AS who
      FROM o JOIN ({src.assignments}) a ON a.organization_id = o.org_id
      UNION ALL
      SELECT o.community_id AS community_id, o.kind AS kind, 'party_orgs' AS what,
             pl.party_org_id AS who
      FROM o JOIN ({src.party_links}) pl ON pl.organization_id = o.org_id),
m AS (SELECT community_id, what, who, {_kind_flags('kind')}
      FROM t GROUP BY community_id, what, who),
u AS (SELECT anc.unit_id AS unit_id, m.what AS what, m.who AS who, {_kind_flags('m')}
      FROM m JOIN anc ON anc.member_id = m.community_id GROUP BY anc.unit_id, m.what, m.who)
SELECT unit_id, what, COUNT(*) AS {TOTAL}, {', '.join(f'SUM({k}) AS {k}' for k in KINDS)}
FROM u GROUP BY unit_id, what"""
    for row in await _rows(sql):
        unit = out.setdefault(row["unit_id"], UnitFigures(row["unit_id"]))
        figures = unit[row["kind"]]
        for name in ("orgs", *names):
            setattr(figures, name, int(row[name] or 0))
        unit[TOTAL].add(figures)
    for row in await _rows(sql_distinct):
        unit = out.setdefault(row["unit_id"], UnitFigures(row["unit_id"]))
        for kind in (*KINDS, TOTAL):
            setattr(unit[kind], row["what"], int(row[kind] or 0))
    return out


def _kind_flags(source: str) -> str:
    """One 0/1 column per kind: a (unit, instructor) row says in which kinds the instructor
    works there, so per-kind and all-kind distinct counts come from one grouping."""
    if source == "kind":
        return ", ".join(f"MAX(CASE WHEN kind = {lit(k)} THEN 1 ELSE 0 END) AS {k}" for k in KINDS)
    return ", ".join(f"MAX({source}.{k}) AS {k}" for k in KINDS)
