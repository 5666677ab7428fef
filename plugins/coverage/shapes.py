"""The API's typed bodies, so /schema describes each field and a malformed body (a wrong type,
an unknown field, a text longer than its column, a negative count) is refused naming it (400)
before the registry or the report checks run.

Fields whose rules need the registry or the period (a credit code's check character, a kind
given by its label, 党员总数 = 正式 + 预备, a change date inside the period) stay optional or
plain text here: those checks answer 422 naming the field as they always have.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import msgspec

from plugins.coverage import stats

MAX_COUNT = 10_000_000  # far above any organization's staff or members, inside 32 bits


def _text(n: int) -> Any:
    return Annotated[str, msgspec.Meta(max_length=n)]


Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_COUNT)]
Uscc = _text(18)  # 统一社会信用代码
Reason = _text(2000)


class _In(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    def as_data(self) -> dict[str, Any]:
        """The body as the checks read it (absent fields as None)."""
        return msgspec.structs.asdict(self)


class OrganizationIn(_In):
    """One registry row, by the registry sheet's field names (the code is in the path). Kinds,
    statuses, party organization types and formations may be given by code or by label."""
    name: _text(200) | None = None  # required
    kind: _text(12) | None = None  # required: enterprise, social, 非公企业, 社会组织
    industry: _text(100) | None = None
    community: _text(32) | None = None  # required: the community's unit code
    employees: Count | None = None
    formal_members: Count | None = None
    probationary_members: Count | None = None
    status: _text(8) | None = None  # active, closed, moved (正常, 注销, 迁出)
    closed_on: dt.date | None = None
    valid_from: dt.date | None = None
    demo_site: bool | None = None
    party_org: _text(200) | None = None  # the party organization's name
    party_org_type: _text(16) | None = None
    formation: _text(12) | None = None
    established: dt.date | None = None
    secretary: _text(100) | None = None
    party_org_members: Count | None = None
    instructors: _text(2000) | None = None  # usernames, separated by commas


class CloseIn(_In):
    status: Literal["closed", "moved"] = "closed"  # 注销 or 迁出
    closed_on: dt.date | None = None  # today when absent
    reason: Reason = ""


class DecideMissingIn(_In):
    decision: Literal["close", "keep"]
    closed_on: dt.date | None = None  # with `close`; today when absent
    reason: Reason = ""


class ReportIn(_In):
    """One organization's report for a period; the counts are checked against each other."""
    period: _text(16)
    uscc: Uscc | None = None  # required
    party_members: Count | None = None  # required: 党员总数 = 正式党员 + 预备党员
    formal_members: Count | None = None  # required
    probationary_members: Count | None = None  # required
    party_org_change: _text(12) | None = None  # none, established, dissolved (or the labels)
    party_org_type: _text(16) | None = None  # required when a party organization is established
    change_date: dt.date | None = None  # required with a change
    secretary: _text(100) | None = None
    visits: Count | None = None
    activities: Count | None = None
    remarks: _text(500) | None = None


class ReturnIn(_In):
    reason: Reason | None = None  # required


# -- answers --------------------------------------------------------------------------------

def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class UnitOut(msgspec.Struct):
    code: str
    name: str
    level: str

    @classmethod
    def of(cls, unit: Any) -> UnitOut:
        return cls(code=unit.code, name=unit.name, level=unit.level)


class FiguresOut(msgspec.Struct):
    """One scope's figures; the rates are in points (58.33 means 58.33 %), none without
    organizations."""
    orgs: int
    own: int
    joint: int
    org_covered: int
    instructor_only: int
    work_covered: int
    uncovered: int
    should_establish: int
    demo_sites: int
    party_orgs: int
    instructors: int
    org_rate: float | None
    work_rate: float | None


class KindFiguresOut(msgspec.Struct):
    enterprise: FiguresOut
    social: FiguresOut
    total: FiguresOut

    @classmethod
    def of(cls, figures: stats.UnitFigures) -> KindFiguresOut:
        return cls(**{kind: FiguresOut(**figures[kind].as_dict()) for kind in stats.SCOPES})


class ChildOut(UnitOut):
    depth: int  # 1 for the unit's children, 2 for theirs
    figures: KindFiguresOut


class StatsOut(msgspec.Struct):
    period: str
    as_of: str  # the day the figures describe: the period's last day
    frozen: bool  # a closed period's figures, fixed when it closed
    unit: UnitOut
    figures: KindFiguresOut
    children: list[ChildOut]


class DrillOrgOut(msgspec.Struct):
    id: int
    uscc: str
    name: str
    kind: str
    community_code: str
    community_name: str
    formal_members: int
    own: bool  # its own party organization
    joint: bool  # covered by a joint one
    instr: bool  # has an instructor
    should: bool  # should establish one (应建未建)
    demo: bool  # demonstration site


class DrillPartyOrgOut(msgspec.Struct):
    id: int
    name: str
    type: str | None
    formation: str  # standalone, joint
    established: str | None
    dissolved_on: str | None
    organizations: int  # the unit's organizations of the kind it covers


class DrillInstructorOut(msgspec.Struct):
    id: int
    username: str
    display_name: str
    organizations: int


class DrilldownOut(msgspec.Struct, omit_defaults=True):
    """One page of one tab of the list behind a figure; the chosen tab's list is the only one
    present. A rate has the tabs numerator and denominator, party_orgs has party_orgs and
    organizations, instructors has instructors, a count has organizations."""
    period: str
    unit: UnitOut
    kind: str
    figure: str
    value: int | float | None  # the figure itself
    tabs: list[str]
    tab: str
    counts: dict[str, int]  # each tab's whole length, without the search
    numerator: list[DrillOrgOut] | None = None
    denominator: list[DrillOrgOut] | None = None
    organizations: list[DrillOrgOut] | None = None
    party_orgs: list[DrillPartyOrgOut] | None = None
    instructors: list[DrillInstructorOut] | None = None

    @classmethod
    def build(cls, period: str, unit: Any, kind: str, result: dict[str, Any]) -> DrilldownOut:
        tab = result["tab"]
        row = {"party_orgs": DrillPartyOrgOut, "instructors": DrillInstructorOut}.get(
            tab, DrillOrgOut)
        items = [row(**{f: r[f] for f in row.__struct_fields__}) for r in result["pager"].items]
        return cls(period=period, unit=UnitOut.of(unit), kind=kind, figure=result["figure"],
                   value=result["value"], tabs=list(result["tabs"]), tab=tab,
                   counts=dict(result["counts"]), **{tab: items})


class ComplianceOut(msgspec.Struct):
    id: int
    username: str
    display_name: str
    assigned: int  # organizations assigned in the period
    reported: int  # of those, with a report submitted or confirmed
    rate: float | None  # in points; none when nothing is assigned
    last_report_at: str | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> ComplianceOut:
        return cls(id=row["id"], username=row["username"], display_name=row["display_name"],
                   assigned=row["assigned"], reported=row["reported"],
                   rate=float(row["rate"]) if row["rate"] is not None else None,
                   last_report_at=_iso(row["last_report_at"]))


class OrganizationOut(msgspec.Struct):
    uscc: str
    name: str
    kind: str
    industry: str
    community: str  # the community's unit code
    employees: int
    formal_members: int
    probationary_members: int
    status: str
    demo_site: bool
    closed_on: str | None

    @classmethod
    def of(cls, o: Any) -> OrganizationOut:
        return cls(uscc=o.uscc, name=o.name, kind=o.kind, industry=o.industry,
                   community=o.community.code, employees=o.employees,
                   formal_members=o.formal_members, probationary_members=o.probationary_members,
                   status=o.status, demo_site=o.demo_site, closed_on=_iso(o.closed_on))


class SavedOrganizationOut(msgspec.Struct):
    action: Literal["create", "change", "unchanged"]
    create: int
    change: int
    unchanged: int
    errors: int
    error_rows: int
    missing: int
    listed_missing: int
    import_id: int | None


class ClosedOut(msgspec.Struct):
    uscc: str
    status: str
    closed_on: str


class MissingOut(msgspec.Struct):
    id: int
    uscc: str
    name: str
    import_id: int
    imported_at: str

    @classmethod
    def of(cls, m: Any) -> MissingOut:
        return cls(id=m.id, uscc=m.organization.uscc, name=m.organization.name,
                   import_id=m.registry_import_id, imported_at=m.registry_import.imported_at.isoformat())


class DecidedOut(msgspec.Struct):
    id: int
    decision: str


class ReportOut(msgspec.Struct):
    id: int
    uscc: str
    period: str
    status: Literal["submitted", "confirmed", "returned"]
    party_members: int
    formal_members: int
    probationary_members: int
    party_org_change: str
    party_org_type: str
    change_date: str | None
    secretary: str
    visits: int
    activities: int
    remarks: str
    return_reason: str
    submitted_at: str | None
    reviewed_by: str

    @classmethod
    def of(cls, r: Any) -> ReportOut:
        return cls(id=r.id, uscc=r.uscc, period=r.period_code, status=r.status,
                   party_members=r.party_members, formal_members=r.formal_members,
                   probationary_members=r.probationary_members,
                   party_org_change=r.party_org_change, party_org_type=r.party_org_type,
                   change_date=_iso(r.change_date), secretary=r.secretary, visits=r.visits,
                   activities=r.activities, remarks=r.remarks, return_reason=r.return_reason,
                   submitted_at=_iso(r.submitted_at), reviewed_by=r.reviewed_by)


class SubmittedOut(msgspec.Struct):
    action: Literal["create", "change", "unchanged"]
    report: ReportOut


class MyOrganizationOut(msgspec.Struct):
    uscc: str
    name: str
    kind: str
    report: ReportOut | None


class MyOrganizationsOut(msgspec.Struct):
    period: str
    end: str  # the period's last day
    organizations: list[MyOrganizationOut]
