"""The roll-up engine (count per community, sum and union up the tree) gives the figures the
all-in-SQL engine gave, on a generated tree with dates, closings, joint party organizations
spanning districts and kinds, ended assignments, grids and a closed (frozen) period."""

import datetime as dt
import random

import pytest

from core.orgs import OrgUnit, Period, ensure_period, ensure_unit
from plugins.coverage import stats
from plugins.coverage.models import InstructorAssignment, Organization, PartyOrg, PartyOrgLink
from tests.conftest import make_user
from tests.plugins.coverage import reference_stats
from tests.plugins.coverage.world import uscc

D = dt.date


async def _generated_tree(seed: int) -> list[OrgUnit]:
    rng = random.Random(seed)
    await ensure_period("2014")
    await ensure_period("2014Q2", status="closed")
    await ensure_period("2014Q3")
    city, _ = await ensure_unit("529900", "测试市", "city")
    communities = []
    for d in range(4):
        district, _ = await ensure_unit(f"5299{d + 1:02d}", f"区{d}", "district", city)
        for c in range(rng.randint(1, 4)):
            community, _ = await ensure_unit(f"{district.code}{c:03d}", f"社区{d}-{c}",
                                             "community", district)
            communities.append(community)
            for g in range(2):
                await ensure_unit(f"{community.code}{g:03d}", f"网格{g}", "grid", community)
    grid = await OrgUnit.filter(level="grid").first()
    people = [await make_user(f"zd{i}", "instructor") for i in range(6)]
    orgs = []
    for n in range(60):
        home = grid if n == 7 else rng.choice(communities)  # one in a grid: counted nowhere
        closed = D(2014, rng.randint(4, 8), 1) if n % 9 == 0 else None
        orgs.append(await Organization.create(
            uscc=uscc(n + 1), name=f"组织{n}", kind=rng.choice(("enterprise", "enterprise", "social")),
            community=home, formal_members=rng.randint(0, 6), employees=5,
            status="closed" if closed else "active", closed_on=closed,
            valid_from=D(2014, 8, 1) if n % 11 == 0 else None, demo_site=n % 5 == 0))
    for i, org in enumerate(orgs):
        if rng.random() < 0.35:
            party = await PartyOrg.create(
                name=f"党支部{i}", type="branch", formation="standalone",
                established=rng.choice((None, D(2013, 1, 1), D(2014, 8, 15))),
                dissolved_on=D(2014, 5, 1) if i % 7 == 0 else None)
            await PartyOrgLink.create(party_org=party, organization=org)
    for j in range(8):
        party = await PartyOrg.create(name=f"联合党支部{j}", type="branch", formation="joint",
                                      established=D(2012, 1, 1))
        for org in rng.sample(orgs, rng.randint(2, 5)):
            await PartyOrgLink.create(party_org=party, organization=org)
    for org in rng.sample(orgs, 40):
        for person in rng.sample(people, rng.randint(1, 2)):
            await InstructorAssignment.create(
                instructor=person, organization=org,
                start_on=rng.choice((None, D(2014, 7, 1))),
                end_on=rng.choice((None, None, D(2014, 6, 1))))
    return list(await OrgUnit.all())


def _as_table(result: dict) -> dict:
    return {(uid, kind): figures.as_dict() for uid, unit in result.items()
            for kind, figures in unit.by_kind.items() if figures.orgs or figures.instructors
            or figures.party_orgs}


@pytest.mark.parametrize("seed", [1, 2014])
async def test_roll_up_equals_the_all_in_sql_engine(db, seed):
    units = await _generated_tree(seed)
    for period in ("2014Q3", "2014Q2", "2014"):
        new = await stats.unit_figures(period)
        old = await reference_stats.unit_figures(period)
        assert _as_table(new) == _as_table(old), period
        assert _as_table(new), period  # the tree has figures to compare
        # a chosen set of units (a district, a community, a grid, the city) agrees too
        chosen = [u.id for u in units if u.code in ("529900", "529902", "529901000", "529901000000")]
        subset_new = await stats.unit_figures(period, chosen)
        subset_old = await reference_stats.unit_figures(period, chosen)
        assert sorted(subset_new) == sorted(chosen)
        for uid in chosen:
            for kind in stats.SCOPES:
                assert subset_new[uid][kind].as_dict() == subset_old[uid][kind].as_dict(), (
                    period, uid, kind)
    assert (await Period.get(code="2014Q2")).is_closed
