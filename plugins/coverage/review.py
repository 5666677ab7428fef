"""The organization department's review of reports: confirm (the registry takes the
reported figures and party organization change) or return with a reason (the instructor
is told in their inbox)."""

from __future__ import annotations

from typing import Any

from tortoise.transactions import in_transaction

from core import audit, clock, i18n
from core.accounts import User
from core.errors import Conflict, Invalid, NotFound
from core.notify import notify
from core.orgs import get_open_period
from plugins.coverage import codes
from plugins.coverage.models import (
    CoverageReport,
    Organization,
    OrganizationHistory,
    PartyOrg,
    PartyOrgLink,
)
from plugins.coverage.registry import (
    DENOMINATOR_FIELDS,
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
    done = await _apply_party_change(org, report)
    await audit.record("coverage.org.from_report", "coverage_org", org.uscc, before=snap,
                       after={**audit.snapshot(org), **done},
                       reason=audit.said("coverage.said.report", uscc=report.uscc,
                                         period=report.period_code))
    return done


async def _apply_party_change(org: Organization, report: CoverageReport) -> dict[str, object]:
    """A reported party organization established or dissolved reaches the registry."""
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


def matching(period_code: str, status: str = "", q: str = "", unit: str = "") -> Any:
    """The reports of a period the review page's filters select: status, a name or credit code,
    a district or community code (or its first digits)."""
    qs = CoverageReport.filter(period_code=period_code)
    if status in codes.REPORT_STATUS_LABELS:
        qs = qs.filter(status=status)
    q, unit = (q or "").strip(), (unit or "").strip()
    if q:
        qs = qs.filter(uscc__startswith=q.upper()) if q[:1].isdigit() else qs.filter(
            organization__name__icontains=q)
    if unit:
        qs = qs.filter(organization__community__code__startswith=unit)
    return qs


async def confirm_matching(period_code: str, reviewer: User, *, q: str = "", unit: str = "",
                           ids: list[int] | None = None) -> int:
    """Confirm every submitted report of the period that the filters (or `ids`) select, in one
    transaction, with set-based statements: the registry takes the reported member counts,
    the denominator history and the audit trail get their rows in bulk. Reports that change
    a party organization (a few) take the one-by-one path inside the same transaction.
    Returns how many were confirmed; a second submission finds none left to confirm."""
    await get_open_period(period_code)
    await guard_closed_periods()
    chosen = matching(period_code, "submitted", q, unit)
    if ids is not None:
        chosen = chosen.filter(id__in=ids)
    wanted = list(await chosen.values_list("id", flat=True))
    if not wanted:
        return 0
    now = clock.now()
    async with in_transaction() as conn:
        reports = []
        for start in range(0, len(wanted), 1000):  # locked, and re-read: still submitted?
            reports += await CoverageReport.filter(
                id__in=wanted[start:start + 1000], status="submitted").select_for_update(
            ).using_db(conn).values("id", "uscc", "organization_id", "formal_members",
                                    "probationary_members", "party_org_change")
        if not reports:
            return 0
        org_ids = [r["organization_id"] for r in reports]
        old = {o["id"]: o for start in range(0, len(org_ids), 1000)
               for o in await Organization.filter(id__in=org_ids[start:start + 1000]).using_db(
                   conn).values("id", "uscc", "probationary_members", *DENOMINATOR_FIELDS)}
        report_ids = [r["id"] for r in reports]
        for start in range(0, len(report_ids), 1000):
            chunk = ", ".join(str(int(i)) for i in report_ids[start:start + 1000])
            await conn.execute_query(f"""
UPDATE coverage_org SET
  formal_members = (SELECT r.formal_members FROM coverage_report r
                    WHERE r.id IN ({chunk}) AND r.organization_id = coverage_org.id),
  probationary_members = (SELECT r.probationary_members FROM coverage_report r
                          WHERE r.id IN ({chunk}) AND r.organization_id = coverage_org.id)
WHERE id IN (SELECT r.organization_id FROM coverage_report r WHERE r.id IN ({chunk}))""")
            await Organization.filter(id__in=org_ids[start:start + 1000]).using_db(conn).update(
                updated_at=now)
        history, org_audit = [], []
        for r in reports:
            o = old[r["organization_id"]]
            before = audit.canonical({name: o[name] for name in DENOMINATOR_FIELDS})
            after = audit.canonical({**{name: o[name] for name in DENOMINATOR_FIELDS},
                                     "formal_members": r["formal_members"]})
            if before != after:
                history.append(OrganizationHistory(organization_id=o["id"], source="report",
                                                   before=before, after=after))
            org_audit.append([o["uscc"], {"formal_members": o["formal_members"],
                                          "probationary_members": o["probationary_members"]},
                              {"formal_members": r["formal_members"],
                               "probationary_members": r["probationary_members"]}])
        if history:
            await OrganizationHistory.bulk_create(history, batch_size=1000, using_db=conn)
        changes = {r["id"] for r in reports if r["party_org_change"] != "none"}
        if changes:
            done_by_uscc = {}
            for report in await CoverageReport.filter(id__in=sorted(changes)).using_db(conn):
                org = await Organization.filter(id=report.organization_id).using_db(conn).get()
                done_by_uscc[org.uscc] = await _apply_party_change(org, report)
            for item in org_audit:
                item[2].update(done_by_uscc.get(item[0], {}))
        for start in range(0, len(report_ids), 1000):
            await CoverageReport.filter(id__in=report_ids[start:start + 1000]).using_db(
                conn).update(status="confirmed", reviewed_by=reviewer.username, reviewed_at=now,
                             updated_at=now)
        reason = f"{len(reports)} reports of {period_code} confirmed together"
        await audit.record_many("coverage.org.from_report", "coverage_org",
                                (tuple(item) for item in org_audit), reason=reason)
        await audit.record_many("coverage.report.confirm", "coverage_report",
                                ((f"{r['uscc']}@{period_code}", None, {"status": "confirmed"})
                                 for r in reports), reason=reason)
    return len(reports)


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
