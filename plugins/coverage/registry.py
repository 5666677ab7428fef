"""The registry: organizations, their party organizations and instructors, and its history.

Every write first freezes the figures of closed periods (stats.freeze_closed_periods), and
every change of a field that moves the denominator or the 应建未建 count appends a row to
OrganizationHistory, so a closed period's rates never move and the past stays readable.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from core import audit, clock
from core.accounts import User
from core.errors import Invalid, NotFound
from plugins.coverage.models import (
    InstructorAssignment,
    MissingOrganization,
    Organization,
    OrganizationHistory,
    PartyOrg,
    PartyOrgLink,
)
from plugins.coverage.reporting import today
from plugins.coverage.stats import freeze_closed_periods

DENOMINATOR_FIELDS = ("kind", "community_id", "status", "formal_members", "valid_from",
                      "closed_on")


def denominator_state(org: Organization) -> dict[str, Any]:
    return audit.canonical({name: getattr(org, name) for name in DENOMINATOR_FIELDS})


async def keep_history(org: Organization, before: dict[str, Any] | None, source: str,
                       using_db: Any = None) -> bool:
    """Append a history row when a denominator field changed; True if one was written."""
    after = denominator_state(org)
    if before == after:
        return False
    await OrganizationHistory.create(organization_id=org.id, source=source, before=before,
                                     after=after, using_db=using_db)
    return True


async def guard_closed_periods() -> None:
    """Before changing the registry: freeze what closed periods saw."""
    await freeze_closed_periods()


async def own_party_org(org_id: int) -> PartyOrg | None:
    link = await PartyOrgLink.filter(organization_id=org_id, party_org__formation="standalone",
                                     party_org__dissolved_on=None).select_related(
        "party_org").first()
    return link.party_org if link else None


async def party_orgs_of(org_id: int) -> list[PartyOrg]:
    return [link.party_org for link in await PartyOrgLink.filter(
        organization_id=org_id).select_related("party_org").order_by("party_org__name")]


async def active_instructors(org_id: int) -> list[User]:
    rows = await InstructorAssignment.filter(organization_id=org_id, end_on=None).select_related(
        "instructor").order_by("instructor__username")
    return [r.instructor for r in rows]


async def set_instructors(org: Organization, users: list[User], on: dt.date | None = None,
                          start_on: dt.date | None = None) -> tuple[list[str], list[str]]:
    """Make `users` the organization's current instructors; returns (added, ended) usernames."""
    on = on or today()
    current = await InstructorAssignment.filter(organization_id=org.id, end_on=None).select_related(
        "instructor")
    have = {a.instructor_id: a for a in current}
    want = {u.id: u for u in users}
    ended = [a.instructor.username for uid, a in have.items() if uid not in want]
    for uid, a in have.items():
        if uid not in want:
            a.end_on = on
            await a.save(update_fields=["end_on"])
    added = []
    for uid, user in want.items():
        if uid not in have:
            await InstructorAssignment.create(instructor_id=uid, organization_id=org.id,
                                              start_on=start_on)
            added.append(user.username)
    return added, ended


async def assign(instructor: User, org: Organization, start_on: dt.date | None = None
                 ) -> InstructorAssignment:
    if instructor.role != "instructor":
        raise Invalid("not_an_instructor", f"instructor: user '{instructor.username}' has role "
                      f"'{instructor.role}', not instructor", field="instructor")
    await guard_closed_periods()
    found = await InstructorAssignment.get_or_none(instructor_id=instructor.id,
                                                   organization_id=org.id, end_on=None)
    if found:
        return found
    row = await InstructorAssignment.create(instructor=instructor, organization=org,
                                            start_on=start_on)
    await audit.record("coverage.assign", "coverage_org", org.uscc,
                       after={"instructor": instructor.username,
                              "start_on": start_on.isoformat() if start_on else None})
    return row


async def unassign(instructor: User, org: Organization, on: dt.date | None = None) -> int:
    await guard_closed_periods()
    n = await InstructorAssignment.filter(instructor_id=instructor.id, organization_id=org.id,
                                          end_on=None).update(end_on=on or today())
    if n:
        await audit.record("coverage.unassign", "coverage_org", org.uscc,
                           after={"instructor": instructor.username})
    return n


async def close_organization(org: Organization, *, status: str = "closed",
                             closed_on: dt.date | None = None, reason: str = "",
                             source: str = "admin") -> Organization:
    """Take an organization out of the denominator from `closed_on` on. Never deleted."""
    if status not in ("closed", "moved"):
        raise Invalid("bad_status", f"status: '{status}' is not closed or moved", field="status")
    await guard_closed_periods()
    before = denominator_state(org)
    snap = audit.snapshot(org)
    org.status, org.closed_on = status, closed_on or today()
    await org.save()
    await keep_history(org, before, source)
    await audit.record("coverage.org.close", "coverage_org", org.uscc, before=snap,
                       after=audit.snapshot(org), reason=reason)
    return org


async def decide_missing(mark_id: int, decision: str, actor: str, *,
                         closed_on: dt.date | None = None, reason: str = "") -> MissingOrganization:
    """Close or keep an organization a full registry import did not list."""
    if decision not in ("close", "keep"):
        raise Invalid("bad_decision", f"decision: '{decision}' is not close or keep",
                      field="decision")
    mark = await MissingOrganization.get_or_none(id=mark_id).select_related("organization")
    if mark is None:
        raise NotFound("unknown_missing", f"no missing-organization entry {mark_id}")
    if mark.decision:
        raise Invalid("already_decided", f"decision: this entry was already decided "
                      f"({mark.decision})", field="decision")
    if decision == "close":
        await close_organization(mark.organization, closed_on=closed_on, reason=reason
                                 or "missing from a full registry import", source="registry")
    else:
        await audit.record("coverage.org.keep", "coverage_org", mark.organization.uscc,
                           reason=reason or "kept although missing from a full registry import")
    mark.decision, mark.decided_by = decision, actor
    mark.decided_at = clock.now()
    await mark.save()
    return mark


async def org_by_uscc(uscc: str) -> Organization:
    org = await Organization.get_or_none(uscc=uscc)
    if org is None:
        raise NotFound("unknown_org", f"uscc: no organization with credit code '{uscc}'",
                       field="uscc")
    return org
