"""A small registry with hand-counted coverage figures (see FIGURES below)."""

from __future__ import annotations

import datetime as dt

from stdnum.cn import uscc as stdnum_uscc

from core.orgs import OrgUnit, ensure_period
from plugins.coverage.models import InstructorAssignment, Organization, PartyOrg, PartyOrgLink
from tests.conftest import make_user, seed_units

D = dt.date


def uscc(n: int, region: str = "91520102") -> str:
    """A valid unified social credit code: 17 characters and the GB 32100 check character."""
    body = f"{region}{n:09d}"
    return body + stdnum_uscc.calc_check_digit(body)


def wrong_check(code: str) -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    return code[:17] + alphabet[(alphabet.index(code[17]) + 1) % len(alphabet)]


HGY, QL = "520102001", "520103001"  # 花果园 (南明区), 黔灵 (云岩区)
DEMO_SITES = ("E1", "S4", "E9")
ORGS = {
    # key: (kind, community, formal members)
    "E1": ("enterprise", HGY, 5), "E2": ("enterprise", HGY, 1), "E3": ("enterprise", HGY, 0),
    "E4": ("enterprise", HGY, 3), "E5": ("enterprise", HGY, 0), "E6": ("enterprise", HGY, 2),
    "S1": ("social", HGY, 2), "S2": ("social", HGY, 1), "S3": ("social", HGY, 4),
    "E7": ("enterprise", QL, 3), "E8": ("enterprise", QL, 0), "E9": ("enterprise", QL, 6),
    "S4": ("social", QL, 0),
}


async def build_world() -> dict:
    """Periods 2014 (open), 2014Q1/Q2 (closed), 2014Q3/Q4 (open); instructors zhang, li, wang."""
    await seed_units()
    for code, status in (("2014Q1", "closed"), ("2014Q2", "closed"), ("2014Q3", "open"),
                         ("2014Q4", "open")):
        await ensure_period(code, status=status)
    units = {u.code: u for u in await OrgUnit.all()}
    people = {name: await make_user(name, "instructor") for name in ("zhang", "li", "wang")}
    orgs = {}
    for i, (key, (kind, community, formal)) in enumerate(ORGS.items(), start=1):
        orgs[key] = await Organization.create(
            uscc=uscc(i), name=f"组织{key}", kind=kind, community=units[community],
            formal_members=formal, employees=10 * i)
    # E9 closed before Q3 began: counted in Q1, not in Q3.
    orgs["E9"].status, orgs["E9"].closed_on = "closed", D(2014, 5, 1)
    await orgs["E9"].save()
    # Demonstration sites: E1, S4, and E9 (which stops counting once it closed).
    await Organization.filter(id__in=[orgs[k].id for k in DEMO_SITES]).update(demo_site=True)

    async def party(name, formation, members, established=None, dissolved=None):
        p = await PartyOrg.create(name=name, type="branch", formation=formation,
                                  established=established, dissolved_on=dissolved)
        for key in members:
            await PartyOrgLink.create(party_org=p, organization=orgs[key])
        return p

    await party("E1党支部", "standalone", ["E1"], D(2010, 1, 1))
    await party("E6党支部", "standalone", ["E6"])
    await party("S1党支部", "standalone", ["S1"], D(2012, 3, 1))
    await party("花果园联合党支部", "joint", ["E2", "E3", "E6"], D(2013, 1, 1))
    await party("黔灵联合党支部", "joint", ["E7", "S4"], D(2013, 1, 1))
    # Dissolved in August: E5 is own-covered in Q2, not in Q3.
    await party("E5党支部", "standalone", ["E5"], D(2011, 1, 1), dissolved=D(2014, 8, 1))
    # Established in October: E8 is own-covered in Q4, instructor-only in Q3.
    await party("E8党支部", "standalone", ["E8"], D(2014, 10, 15))

    async def assign(person, key, start=None, end=None):
        await InstructorAssignment.create(instructor=people[person], organization=orgs[key],
                                          start_on=start, end_on=end)

    await assign("zhang", "E4")
    await assign("zhang", "E8")
    await assign("li", "E1")
    await assign("li", "S2")
    await assign("wang", "E5", end=D(2014, 7, 1))  # ended before Q3's last day
    return {"units": units, "people": people, "orgs": orgs}


# Hand-counted figures of 2014Q3 (as of 2014-09-30).
# 花果园 enterprises E1–E6: own E1, E6 · joint E2, E3 · instructor only E4 · uncovered E5
#   org rate 4/6 = 66.666… → 66.67 · work rate 5/6 = 83.333… → 83.33 · 应建未建 E4 (3 formal)
#   instructors zhang (E4), li (E1) → 2
# 花果园 social S1–S3: own S1 · instructor only S2 · uncovered S3 (4 formal → 应建未建)
#   org rate 1/3 → 33.33 · work rate 2/3 → 66.67 · instructors li → 1
# 花果园 total: 9 orgs, 5 org-covered → 55.555… → 55.56, 7 work-covered → 77.78, instructors 2
# 黔灵 enterprises E7, E8 (E9 closed in May): joint E7 · instructor only E8 (its own party
#   org comes in October) → org 1/2 = 50.00, work 2/2 = 100.00, 应建未建 E7, instructors 1
# 黔灵 social S4: joint → 100.00 / 100.00
# City: 12 orgs, own 3, joint 4, org 7/12 = 58.333… → 58.33, instructor only 3,
#   work 10/12 = 83.333… → 83.33, 应建未建 3 (E4, S3, E7), instructors 2 (wang ended in July)
# Party organizations (党组织数), distinct, existing on 2014-09-30 (E5's dissolved in August,
#   E8's not yet established): 花果园 enterprises E1党支部, E6党支部, 花果园联合 → 3 · social
#   S1党支部 → 1 · total 4 · 黔灵 enterprises 黔灵联合 → 1 · social 黔灵联合 → 1 · total 1
#   (one joint party org across both kinds) · city enterprises 4, social 2, total 5.
# Demonstration sites: E1 (花果园 enterprise), S4 (黔灵 social); E9 closed in May → city 2.
FIGURES_Q3 = {
    ("520102001", "enterprise"): dict(orgs=6, own=2, joint=2, instructor_only=1, uncovered=1,
                                      should_establish=1, instructors=2, org_rate="66.67",
                                      work_rate="83.33", party_orgs=3, demo_sites=1),
    ("520102001", "social"): dict(orgs=3, own=1, joint=0, instructor_only=1, uncovered=1,
                                  should_establish=1, instructors=1, org_rate="33.33",
                                  work_rate="66.67", party_orgs=1, demo_sites=0),
    ("520102001", "total"): dict(orgs=9, own=3, joint=2, instructor_only=2, uncovered=2,
                                 should_establish=2, instructors=2, org_rate="55.56",
                                 work_rate="77.78", party_orgs=4, demo_sites=1),
    ("520103001", "enterprise"): dict(orgs=2, own=0, joint=1, instructor_only=1, uncovered=0,
                                      should_establish=1, instructors=1, org_rate="50.00",
                                      work_rate="100.00", party_orgs=1, demo_sites=0),
    ("520103001", "social"): dict(orgs=1, own=0, joint=1, instructor_only=0, uncovered=0,
                                  should_establish=0, instructors=0, org_rate="100.00",
                                  work_rate="100.00", party_orgs=1, demo_sites=1),
    ("520100", "enterprise"): dict(orgs=8, own=2, joint=3, instructor_only=2, uncovered=1,
                                   should_establish=2, instructors=2, org_rate="62.50",
                                   work_rate="87.50", party_orgs=4, demo_sites=1),
    ("520100", "social"): dict(orgs=4, own=1, joint=1, instructor_only=1, uncovered=1,
                               should_establish=1, instructors=1, org_rate="50.00",
                               work_rate="75.00", party_orgs=2, demo_sites=1),
    ("520100", "total"): dict(orgs=12, own=3, joint=4, instructor_only=3, uncovered=2,
                              should_establish=3, instructors=2, org_rate="58.33",
                              work_rate="83.33", party_orgs=5, demo_sites=2),
}
