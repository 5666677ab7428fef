"""Demo data for `kaohe demo`: the registry at the scale of the 2014 report.

7,635 non-public enterprises with 2,109 party organizations, 1,177 social organizations
with 521, 5,288 instructors, 36 demonstration sites. Standalone party organizations cover
the larger organizations, joint ones the small organizations of a community; a few
organizations are left to their instructor so the 应建未建 list and the drill-downs have
something to show. Instructors report for 2014Q3 through the real upload path's planner;
some reports are confirmed, a few returned. Deterministic for a given seed.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from stdnum.cn import uscc as stdnum_uscc

from core.accounts import User
from plugins.coverage import stats
from plugins.coverage.models import (
    CoverageReport,
    InstructorAssignment,
    Organization,
    PartyOrg,
    PartyOrgLink,
)

ENTERPRISES, ENTERPRISE_PARTY_ORGS = 7_635, 2_109
SOCIAL, SOCIAL_PARTY_ORGS = 1_177, 521
INSTRUCTORS, DEMO_SITES = 5_288, 36
INDUSTRIES = ["制造业", "批发和零售业", "住宿和餐饮业", "信息技术服务", "建筑业", "房地产业",
              "交通运输", "商务服务业"]
SOCIAL_TYPES = ["协会", "商会", "民办学校", "社会服务中心", "基金会"]
REPORT_PERIOD = "2014Q3"


def make_uscc(district: str, n: int, social: bool) -> str:
    # 9 = registered with market regulation (企业), 5 = with civil affairs (社会组织).
    body = f"{'51' if social else '91'}{district}{n:09d}"
    return body + stdnum_uscc.calc_check_digit(body)


def _split(total: int, parts: int, rng: Any, low: int, high: int) -> list[int]:
    """`parts` group sizes between low and high adding up to `total` (as near as possible)."""
    sizes = [low] * parts
    left = total - low * parts
    while left > 0:
        i = rng.randrange(parts)
        if sizes[i] < high:
            sizes[i] += 1
            left -= 1
    return sizes


async def build(ctx: Any) -> dict[str, Any]:
    rng = ctx.rng
    communities = ctx.communities
    district_of = {c.id: c.code[:6] for c in communities}
    ctx.progress("coverage registry")
    orgs: list[Organization] = []
    for i in range(ENTERPRISES + SOCIAL):
        social = i >= ENTERPRISES
        community = rng.choice(communities)
        formal = rng.choices([0, 1, 2, 3, 4, 6, 9], [40, 25, 15, 8, 6, 4, 2])[0]
        orgs.append(Organization(
            uscc=make_uscc(district_of[community.id], i + 1, social),
            name=(f"{community.name}{rng.choice(SOCIAL_TYPES)}{i - ENTERPRISES + 1:04d}" if social
                  else f"贵阳{rng.choice(INDUSTRIES)[:2]}企业{i + 1:04d}有限公司"),
            kind="social" if social else "enterprise",
            industry=rng.choice(SOCIAL_TYPES if social else INDUSTRIES), community=community,
            employees=rng.randint(3, 800), formal_members=formal,
            probationary_members=rng.choice([0, 0, 0, 1]), demo_site=False))
    await Organization.bulk_create(orgs, batch_size=2000)
    saved = await Organization.all().order_by("id").values_list("id", "kind", "community_id",
                                                                 "formal_members")
    enterprises = [r for r in saved if r[1] == "enterprise"]
    social_orgs = [r for r in saved if r[1] == "social"]
    ctx.progress("coverage party organizations")
    covered = await _party_orgs(rng, enterprises, ENTERPRISE_PARTY_ORGS, standalone=1_450)
    covered |= await _party_orgs(rng, social_orgs, SOCIAL_PARTY_ORGS, standalone=330)
    ctx.progress("coverage instructors")
    instructors = await _instructors(ctx, saved)
    demo = rng.sample([r[0] for r in saved if r[0] in covered], DEMO_SITES)
    await Organization.filter(id__in=demo).update(demo_site=True)
    ctx.progress("coverage reports 2014Q3")
    reports = await _reports(ctx, rng, REPORT_PERIOD, dt.datetime(2014, 9, 20, 10, tzinfo=dt.UTC),
                             share=0.75, weights=(70, 25, 5))
    # On the demo's last day 2014Q4 is still being reported: most are in, few reviewed yet.
    ctx.progress("coverage reports 2014Q4")
    # Its own generator, seeded from the shared one's state without drawing from it: what the
    # other plugins' demo data draws next stays as it was.
    q4 = random.Random(hash(rng.getstate()[1][:8]))
    reports += await _reports(ctx, q4, "2014Q4", dt.datetime(2014, 12, 22, 9, tzinfo=dt.UTC),
                              share=0.7, weights=(15, 83, 2))
    await stats.freeze_closed_periods()
    return {"organizations": len(saved), "party_orgs": ENTERPRISE_PARTY_ORGS + SOCIAL_PARTY_ORGS,
            "instructors": instructors, "demo_sites": DEMO_SITES, "reports": reports}


async def _party_orgs(rng: Any, members: list[tuple], count: int, standalone: int) -> set[int]:
    """Standalone party organizations for the organizations with most members, joint ones for
    groups of the rest in the same community; about 3 % stay without one."""
    by_members = sorted(members, key=lambda r: (-r[3], r[0]))
    own = by_members[:standalone]
    own_ids = {r[0] for r in own}
    rest = [r for r in members if r[0] not in own_ids]
    rng.shuffle(rest)
    rest = rest[: int(len(rest) * 0.97)]
    rest.sort(key=lambda r: (r[2], r[0]))  # by community: a joint branch is local
    joint_count = count - standalone
    sizes = _split(len(rest), joint_count, rng, 2, 40)
    parties: list[PartyOrg] = []
    groups: list[list[int]] = []
    for r in own:
        parties.append(PartyOrg(name=f"{r[0]}号组织党支部", type=rng.choice(
            ["branch"] * 8 + ["general_branch", "committee"]), formation="standalone",
            established=dt.date(rng.randint(2005, 2014), rng.randint(1, 6), 1),
            secretary=rng.choice(["张", "王", "李", "赵", "刘", "陈"]) + "书记",
            member_count=r[3]))
        groups.append([r[0]])
    start = 0
    for j, size in enumerate(sizes):
        chunk = rest[start:start + size]
        start += size
        if not chunk:
            continue
        prefix = "企业" if members[0][1] == "enterprise" else "社会组织"
        parties.append(PartyOrg(name=f"{prefix}联合党支部{j + 1:04d}", type="branch",
                                formation="joint", established=dt.date(2013, rng.randint(1, 12), 1),
                                member_count=sum(r[3] for r in chunk)))
        groups.append([r[0] for r in chunk])
    await PartyOrg.bulk_create(parties, batch_size=2000)
    names = [p.name for p in parties]
    ids = dict(await PartyOrg.filter(name__in=names).values_list("name", "id"))
    await PartyOrgLink.bulk_create([
        PartyOrgLink(party_org_id=ids[p.name], organization_id=oid)
        for p, group in zip(parties, groups, strict=True) for oid in group], batch_size=5000)
    return {oid for group in groups for oid in group}


async def _instructors(ctx: Any, saved: list[tuple]) -> int:
    rng = ctx.rng
    people = [User(username=f"zdy{i:04d}", display_name=f"指导员{i:04d}", role="instructor",
                   password_hash=ctx.password_hash) for i in range(1, INSTRUCTORS)]
    await User.bulk_create(people, batch_size=2000)
    staff = [ctx.users["instructor"].id] + list(
        await User.filter(username__startswith="zdy").order_by("id").values_list("id", flat=True))
    ids = [r[0] for r in saved]
    rng.shuffle(ids)
    # Every instructor covers one organization or more; the demo account covers six.
    rows = [InstructorAssignment(instructor_id=staff[0], organization_id=oid) for oid in ids[:6]]
    for k, oid in enumerate(ids[6:]):
        rows.append(InstructorAssignment(instructor_id=staff[1 + k % (len(staff) - 1)],
                                         organization_id=oid))
    await InstructorAssignment.bulk_create(rows, batch_size=5000)
    return len(staff)


async def _reports(ctx: Any, rng: Any, period: str, now: dt.datetime, *, share: float,
                   weights: tuple[int, int, int]) -> int:
    """About `share` of the organizations reported for `period`, confirmed, submitted and
    returned by `weights`; the figures are the registry's, so confirming changes nothing."""
    rows = await InstructorAssignment.filter(end_on=None).values_list(
        "organization_id", "organization__uscc", "instructor_id", "organization__formal_members",
        "organization__probationary_members")
    demo_instructor = ctx.users["instructor"].id
    reports = []
    for oid, code, iid, formal, prob in rows:
        if iid == demo_instructor and len([r for r in reports if r.submitted_by_id == iid]) >= 3:
            continue  # leave the demo instructor something to do
        if rng.random() > share:
            continue
        status = rng.choices(["confirmed", "submitted", "returned"], weights)[0]
        reports.append(CoverageReport(
            organization_id=oid, uscc=code, period_code=period,
            party_members=formal + prob, formal_members=formal, probationary_members=prob,
            visits=rng.randint(1, 6), activities=rng.randint(0, 4), status=status,
            return_reason="党员人数与组织名册不符，请核实" if status == "returned" else "",
            submitted_by_id=iid, submitted_at=now,
            reviewed_by="admin" if status != "submitted" else ""))
    await CoverageReport.bulk_create(reports, batch_size=2000)
    return len(reports)
