"""The organization department's review of reports: confirm (the registry takes the
reported figures and party organization change) or return with a reason (the instructor
is told in their inbox)."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from core import audit, clock, i18n
from core.accounts import User
from core.errors import Conflict, Invalid, NotFound
from core.notify import notify
from core.orgs import get_open_period
from plugins.coverage import codes
from plugins.coverage.models import CoverageReport, Organization, PartyOrg, PartyOrgLink
from plugins.coverage.registry import (
    active_instructors,
    denominator_state,
    guard_closed_periods,
    keep_history,
    own_party_org,
)


async def _report(report_id: int) -> CoverageReport:
    report = await CoverageReport.get_or_none(id=report_id).select_related("organization",
                                                                           "submitted_by")
    if report is None:
        raise NotFound("unknown_report", f"no report {report_id}")
    await get_open_period(report.period_code)  # a closed period is read-only
    return report


async def _party_name(org: Organization, type_code: str) -> str:
    base = f"{org.name}{codes.PARTY_ORG_TYPE_LABELS.get(type_code, '党支部')}"
    name, n = base, 2
    while await PartyOrg.exists(name=name):
        name, n = f"{base}（{n}）", n + 1
    return name[:200]


async def apply_to_registry(report: CoverageReport) -> dict[str, object]:
    """The registry takes the confirmed report: member counts and party organization change."""
    org = await Organization.get(id=report.organization_id)
    before, snap = denominator_state(org), audit.snapshot(org)
    org.formal_members, org.probationary_members = report.formal_members, report.probationary_members
    await org.save(update_fields=["formal_members", "probationary_members", "updated_at"])
    await keep_history(org, before, "report")
    done: dict[str, object] = {}
    own = await own_party_org(org.id)
    if report.party_org_change == "established" and own is None:
        party = await PartyOrg.create(
            name=await _party_name(org, report.party_org_type), type=report.party_org_type or "branch",
            formation="standalone", established=report.change_date, secretary=report.secretary,
            member_count=report.party_members)
        await PartyOrgLink.create(party_org=party, organization=org)
        done["party_org_established"] = party.name
    elif report.party_org_change == "dissolved" and own is not None:
        own.dissolved_on = report.change_date
        await own.save(update_fields=["dissolved_on", "updated_at"])
        done["party_org_dissolved"] = own.name
    await audit.record("coverage.org.from_report", "coverage_org", org.uscc, before=snap,
                       after={**audit.snapshot(org), **done},
                       reason=f"report {report.uscc}@{report.period_code}")
    return done


async def confirm(report_id: int, reviewer: User) -> CoverageReport:
    report = await _report(report_id)
    if report.status != "submitted":
        raise Conflict("not_submitted", f"status: report is {report.status}, only a submitted "
                       "report can be confirmed", field="status")
    await guard_closed_periods()
    async with in_transaction():
        await apply_to_registry(report)
        report.status, report.reviewed_by = "confirmed", reviewer.username
        report.reviewed_at = clock.now()
        await report.save(update_fields=["status", "reviewed_by", "reviewed_at", "updated_at"])
        await audit.record("coverage.report.confirm", "coverage_report",
                           f"{report.uscc}@{report.period_code}", after={"status": "confirmed"})
    return report


async def return_report(report_id: int, reviewer: User, reason: str) -> CoverageReport:
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("reason_required", "reason: a returned report needs a reason",
                      field="reason")
    if len(reason) > 500:
        raise Invalid("reason_too_long", "reason: at most 500 characters", field="reason")
    report = await _report(report_id)
    if report.status != "submitted":
        raise Conflict("not_submitted", f"status: report is {report.status}, only a submitted "
                       "report can be returned", field="status")
    now = clock.now()
    async with in_transaction():
        report.status, report.return_reason = "returned", reason
        report.reviewed_by, report.reviewed_at = reviewer.username, now
        await report.save(update_fields=["status", "return_reason", "reviewed_by", "reviewed_at",
                                         "updated_at"])
        await audit.record("coverage.report.return", "coverage_report",
                           f"{report.uscc}@{report.period_code}", after={"status": "returned"},
                           reason=reason)
        people = [report.submitted_by] if report.submitted_by else []
        people = [u for u in people if u.role == "instructor"] or await active_instructors(
            report.organization_id)
        for user in people:
            lang = user.language or "zh"
            await notify([user], i18n.t("coverage.mail.returned_subject", lang,
                                        name=report.organization.name, period=report.period_code),
                         i18n.t("coverage.mail.returned_body", lang, name=report.organization.name,
                                uscc=report.uscc, period=report.period_code, reason=reason,
                                reviewer=reviewer.display_name or reviewer.username),
                         key=f"coverage.report_returned:{report.id}:{int(now.timestamp())}",
                         link=f"/coverage/report/{report.uscc}?period={report.period_code}")
    return report
