"""Queries shared by pages, API, jobs and exporters: the reporting period, an instructor's
organizations, scoped units, and the statistics table (districts with their communities)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from core.accounts import User
from core.errors import Forbidden, NotFound
from core.orgs import OrgUnit, Period
from core.scope import scope_for
from plugins.coverage import codes, stats
from plugins.coverage.config import definition
from plugins.coverage.models import CoverageReport, InstructorAssignment, Organization
from plugins.coverage.reporting import today
from plugins.coverage.workbooks import REPORT_FIELDS, registry_template, report_template


# -- periods -------------------------------------------------------------------------------
async def open_report_periods() -> list[Period]:
    kind = (await definition()).report_period_kind
    return list(await Period.filter(kind=kind, status="open").order_by("start"))


async def current_report_period(on: dt.date | None = None) -> Period | None:
    """The open reporting period containing `on`; else the earliest open one already over
    (still waiting for its reports, so it comes first); else the next one to begin."""
    on = on or today()
    periods = await open_report_periods()
    for p in periods:
        if p.start <= on <= p.end:
            return p
    over = [p for p in periods if p.end < on]
    return (over or periods or [None])[0]


async def default_stats_period() -> str | None:
    current = await current_report_period()
    if current:
        return current.code
    latest = await Period.all().order_by("-end").first()
    return latest.code if latest else None


# -- units and scope -----------------------------------------------------------------------
async def root_units() -> list[OrgUnit]:
    return list(await OrgUnit.filter(parent_id=None).order_by("sort_order", "code"))


async def scoped_unit(user: User, code: str | None) -> OrgUnit:
    """The unit asked for, or the user's default; a unit officer stays in their subtree."""
    scope = await scope_for(user)
    own = None
    if scope.kind == "subtree":
        own = await OrgUnit.get_or_none(path=scope.unit_path) if scope.unit_path else None
    if code:
        unit = await OrgUnit.get_or_none(code=code)
        if unit is None:
            raise NotFound("unknown_unit", f"unit: no org unit with code '{code}'", field="unit")
        if scope.kind == "subtree" and not scope.allows_unit_path(unit.path):
            raise Forbidden("outside_unit", f"unit: '{code}' is outside your unit", field="unit")
        return unit
    if own is not None:
        return own
    roots = await root_units()
    if not roots:
        raise NotFound("no_units", "unit: no org units are defined", field="unit")
    return roots[0]


# Organizations sit in communities: the units below them (residents' committees, grids) carry
# no figures of their own, so the table lists them only when asked.
BELOW_COMMUNITY = ("committee", "grid")


async def stats_table(period_code: str, root: OrgUnit, grids: bool = False
                      ) -> list[dict[str, Any]]:
    """The root, each child (district) and its children (communities) beneath, with figures;
    units below communities only with `grids`."""
    levels = {} if grids else {"level__not_in": BELOW_COMMUNITY}
    children = list(await OrgUnit.filter(parent_id=root.id, **levels).order_by("sort_order", "code"))
    grand = list(await OrgUnit.filter(parent_id__in=[c.id for c in children], **levels).order_by(
        "sort_order", "code")) if children else []
    under: dict[int, list[OrgUnit]] = {}
    for g in grand:
        under.setdefault(g.parent_id, []).append(g)
    ordered: list[tuple[OrgUnit, int]] = [(root, 0)]
    for c in children:
        ordered.append((c, 1))
        ordered.extend((g, 2) for g in under.get(c.id, []))
    figures = await stats.unit_figures(period_code, [u.id for u, _ in ordered])
    return [{"unit": u, "depth": depth, "figures": figures[u.id]} for u, depth in ordered]


async def has_units_below_communities(root: OrgUnit) -> bool:
    """Whether the grids toggle has anything to show within two levels of `root`."""
    children = OrgUnit.filter(parent_id=root.id).values_list("id", flat=True)
    return await OrgUnit.filter(level__in=BELOW_COMMUNITY).filter(
        parent_id__in=[root.id, *await children]).exists()


# -- an instructor's organizations ---------------------------------------------------------
async def assigned_org_ids(user: User) -> list[int]:
    return list(await InstructorAssignment.filter(instructor_id=user.id, end_on=None).values_list(
        "organization_id", flat=True))


async def my_organizations(user: User, period: Period) -> list[dict[str, Any]]:
    """The organizations an instructor reports for (all active ones for an admin)."""
    if user.role == "instructor":
        qs = Organization.filter(id__in=await assigned_org_ids(user))
    else:
        qs = Organization.filter(closed_on=None)
    orgs = await qs.select_related("community").order_by("uscc")
    reports = {r.uscc: r for r in await CoverageReport.filter(
        period_code=period.code, uscc__in=[o.uscc for o in orgs])} if orgs else {}
    return [{"org": o, "report": reports.get(o.uscc)} for o in orgs]


def report_row(org: Organization, report: CoverageReport | None) -> dict[str, Any]:
    row: dict[str, Any] = {"uscc": org.uscc, "name": org.name,
                           "kind": codes.KIND_LABELS.get(org.kind, org.kind),
                           "community": org.community.name if org.community else ""}
    if report is not None:
        for k in REPORT_FIELDS:
            row[k] = getattr(report, k)
        row["party_org_change"] = codes.CHANGE_LABELS.get(report.party_org_change, "")
        row["party_org_type"] = codes.PARTY_ORG_TYPE_LABELS.get(report.party_org_type, "")
    return row


async def report_template_bytes(user: User, period: Period, lang: str = "zh") -> bytes:
    from core import i18n

    rows = [report_row(item["org"], item["report"]) for item in await my_organizations(user, period)]
    title = f"{i18n.t('coverage.page.mine_title', lang)} · {user.display_name or user.username}"
    return report_template(period.code, rows, title)


async def registry_template_bytes(lang: str = "zh", blank: bool = False) -> bytes:
    """The whole registry as a filled registry sheet (edit and upload it back), or a blank one."""
    from core import i18n
    from plugins.coverage.models import InstructorAssignment, PartyOrgLink

    orgs = [] if blank else await Organization.all().select_related("community").order_by("uscc")
    links = await PartyOrgLink.filter(party_org__dissolved_on=None).select_related("party_org")
    party = {}
    for link in links:
        if link.organization_id not in party or link.party_org.formation == "standalone":
            party[link.organization_id] = link.party_org
    people: dict[int, list[str]] = {}
    for oid, username in await InstructorAssignment.filter(end_on=None).values_list(
            "organization_id", "instructor__username"):
        people.setdefault(oid, []).append(username)
    rows = []
    for o in orgs:
        p = party.get(o.id)
        rows.append({
            "uscc": o.uscc, "name": o.name, "kind": codes.KIND_LABELS[o.kind],
            "industry": o.industry, "community": o.community.code, "employees": o.employees,
            "formal_members": o.formal_members, "probationary_members": o.probationary_members,
            "status": codes.STATUS_LABELS.get(o.status, o.status), "closed_on": o.closed_on,
            "valid_from": o.valid_from, "demo_site": codes.YES_NO[o.demo_site],
            "party_org": p.name if p else "",
            "party_org_type": codes.PARTY_ORG_TYPE_LABELS.get(p.type, "") if p else "",
            "formation": codes.FORMATION_LABELS.get(p.formation, "") if p else "",
            "established": p.established if p else None, "secretary": p.secretary if p else "",
            "party_org_members": p.member_count if p else None,
            "instructors": "、".join(sorted(people.get(o.id, []))),
        })
    return registry_template(rows, i18n.t("coverage.page.registry_title", lang))


async def working_days_left(period: Period, on: dt.date | None = None) -> int:
    from core.calendar import WorkCalendar

    cal = await WorkCalendar.load()
    return cal.working_days_between(on or today(), period.end)
