"""The JSON API under /api/coverage (pages are in page_routes.py)."""

from __future__ import annotations

from litestar import Request, Response, get, post, put
from litestar.params import FromQuery, JSONBody

from core import clock, downloads, web
from core.errors import Invalid, NotFound
from core.paging import API_SIZE, paged, paged_headers, paginate
from core.params import (
    Code12,
    Id,
    PageNo,
    PageSize,
    PeriodCode,
    Search,
    Slug,
    UnitCode,
    choice,
    path_text,
)
from core.roles import ADMIN_INSTRUCTOR, ADMIN_LEADER, ADMIN_LEADER_OFFICER, ADMIN_ONLY, ALL
from core.security import current_user
from core.web import download
from plugins.coverage import listing, registry, review, services, shapes, stats
from plugins.coverage.models import (
    REPORT_STATUSES,
    CoverageReport,
    MissingOrganization,
    Organization,
)
from plugins.coverage.reporting import report_period, submit_one

READERS = ADMIN_LEADER_OFFICER
REPORTERS = ADMIN_INSTRUCTOR
ReportStatus = choice(REPORT_STATUSES)
DrillTab = choice(tuple(dict.fromkeys(t for tabs in listing.TABS.values() for t in tabs)),
                  "列表：numerator、denominator、organizations、party_orgs、instructors；"
                  "空 = 该指标的第一个")
ComplianceState = choice(listing.COMPLIANCE_STATES,
                         "silent、partial、complete、unassigned；空 = 不筛选")
UsccInPath = path_text(18)  # 统一社会信用代码
PAGED_HEADERS = paged_headers()


async def period_or_default(period: str | None) -> str:
    code = period or await services.default_stats_period()
    if not code:
        raise NotFound("no_period", "period: no period is defined", field="period")
    return code


# -- figures -------------------------------------------------------------------------------
@get("/stats", opt={"roles": READERS})
async def api_stats(request: Request, period: PeriodCode = None,
                    unit: UnitCode = None) -> shapes.StatsOut:
    """Coverage figures of a unit's subtree and of each of its child units, per kind."""
    code = await period_or_default(period)
    root = await services.scoped_unit(current_user(request), unit)
    table = await services.stats_table(code, root)
    src = await stats.source_for(code)
    return shapes.StatsOut(
        period=code, as_of=src.as_of.isoformat(), frozen=src.frozen,
        unit=shapes.UnitOut.of(root), figures=shapes.KindFiguresOut.of(table[0]["figures"]),
        children=[shapes.ChildOut(code=item["unit"].code, name=item["unit"].name,
                                  level=item["unit"].level, depth=item["depth"],
                                  figures=shapes.KindFiguresOut.of(item["figures"]))
                  for item in table[1:]])


@get("/drilldown", opt={"roles": READERS}, response_headers=PAGED_HEADERS)
async def api_drilldown(request: Request, figure: Slug, period: PeriodCode = None,
                        unit: UnitCode = None, kind: Code12 = None, tab: DrillTab = None,
                        q: Search = "", page: PageNo = 1,
                        size: PageSize = API_SIZE) -> Response[shapes.DrilldownOut]:
    """The organizations (party organizations, instructors) behind one figure, one page of one
    list at a time: a rate's numerator or denominator (`tab`), the members of a count. `q`
    searches names and credit codes; headers X-Total-Count, X-Page, X-Page-Size."""
    code = await period_or_default(period)
    root = await services.scoped_unit(current_user(request), unit)
    result = await listing.drilldown_page(code, root, kind, figure, tab, q or "", page, size,
                                          None)
    return paged(shapes.DrilldownOut.build(code, root, kind or "total", result),
                  result["pager"])


@get("/compliance", opt={"roles": ADMIN_LEADER}, response_headers=PAGED_HEADERS)
async def api_compliance(request: Request, period: PeriodCode = None, unit: UnitCode = None,
                         reporting: ComplianceState = None, q: Search = "", page: PageNo = 1,
                         size: PageSize = API_SIZE) -> Response[list[shapes.ComplianceOut]]:
    """Reporting per instructor (assigned organizations, reported, rate, last report) by
    username, one page at a time; `unit` counts the organizations under a unit code only,
    `reporting` keeps the silent, partial, complete or unassigned instructors, `q` searches
    names. Headers X-Total-Count, X-Page, X-Page-Size."""
    code = await period_or_default(period)
    pager = await listing.compliance_page(code, unit or "", reporting or "", q or "", page,
                                          size, None)
    return paged([shapes.ComplianceOut.of(r) for r in pager.items], pager)


# -- registry ------------------------------------------------------------------------------
@get("/organizations", opt={"roles": ALL}, response_headers=PAGED_HEADERS)
async def api_organizations(request: Request, q: Search = "", unit: UnitCode = None,
                            page: PageNo = 1, size: PageSize = API_SIZE
                            ) -> Response[list[shapes.OrganizationOut]]:
    """Registry entries the caller may see (an instructor: their assigned ones) by credit code,
    one page at a time; `q` searches names, or credit codes when it starts with a digit.
    Headers X-Total-Count, X-Page, X-Page-Size."""
    user = current_user(request)
    qs = Organization.all()
    if user.role == "instructor":
        qs = qs.filter(id__in=await services.assigned_org_ids(user))
    else:
        root = await services.scoped_unit(user, unit)
        qs = qs.filter(community__path__startswith=root.path)
    if q:
        qs = qs.filter(name__icontains=q) if not q[:1].isdigit() else qs.filter(uscc__startswith=q.upper())
    pager = await paginate(qs.select_related("community").order_by("uscc", "id"), page, size)
    return paged([shapes.OrganizationOut.of(o) for o in pager.items], pager)


@put("/organizations/{uscc:str}", opt={"roles": ADMIN_ONLY})
async def api_put_organization(request: Request, uscc: UsccInPath,
                               data: JSONBody[shapes.OrganizationIn]
                               ) -> shapes.SavedOrganizationOut:
    """Create or update one organization with the registry sheet's fields (same checks)."""
    from plugins.coverage.registry_import import plan_registry, save_registry, typed_values

    lang = web.language(request)
    values, problems = typed_values({**data.as_data(), "uscc": uscc}, lang)
    if problems:
        raise Invalid(f"invalid_{problems[0].field}", f"{problems[0].field}: "
                      f"{problems[0].message(lang)}", field=problems[0].field)
    plan = await plan_registry([(1, values)], lang=lang)
    if plan.errors:
        e = plan.errors[0]
        field = {"统一社会信用代码": "uscc"}.get(e.header, e.header)
        raise Invalid("invalid_organization", f"{e.header}: {e.message}", field=field,
                      details=[x.as_dict() for x in plan.errors])
    result = await save_registry(plan, current_user(request).username, filename="api")
    return shapes.SavedOrganizationOut(action=plan.outcomes[0].action, **result)


@post("/organizations/{uscc:str}/close", opt={"roles": ADMIN_ONLY}, status_code=200)
async def api_close_organization(uscc: UsccInPath, data: JSONBody[shapes.CloseIn]
                                 ) -> shapes.ClosedOut:
    """Close (注销) or move away (迁出) an organization from a date on; it is never deleted."""
    org = await registry.org_by_uscc(uscc)
    org = await registry.close_organization(org, status=data.status, closed_on=data.closed_on,
                                            reason=data.reason)
    return shapes.ClosedOut(uscc=org.uscc, status=org.status,
                            closed_on=org.closed_on.isoformat())


@get("/missing", opt={"roles": ADMIN_ONLY}, response_headers=PAGED_HEADERS)
async def api_missing(page: PageNo = 1, size: PageSize = API_SIZE
                      ) -> Response[list[shapes.MissingOut]]:
    """Organizations a full registry import did not list, waiting for close or keep, one
    page at a time (oldest mark first). Headers X-Total-Count, X-Page, X-Page-Size."""
    qs = MissingOrganization.filter(decision="").select_related("organization",
                                                               "registry_import")
    pager = await paginate(qs.order_by("id"), page, size)
    return paged([shapes.MissingOut.of(m) for m in pager.items], pager)


@post("/missing/{mark_id:int}", opt={"roles": ADMIN_ONLY}, status_code=200)
async def api_decide_missing(request: Request, mark_id: Id,
                             data: JSONBody[shapes.DecideMissingIn]) -> shapes.DecidedOut:
    """Decide `close` (with optional closed_on) or `keep` for a missing organization."""
    mark = await registry.decide_missing(mark_id, data.decision, current_user(request).username,
                                         closed_on=data.closed_on, reason=data.reason)
    return shapes.DecidedOut(id=mark.id, decision=mark.decision)


# -- reports -------------------------------------------------------------------------------
@get("/my-organizations", opt={"roles": REPORTERS})
async def api_my_organizations(request: Request, period: PeriodCode = None
                               ) -> shapes.MyOrganizationsOut:
    """The caller's organizations for a reporting period, with their report if any."""
    user = current_user(request)
    p = await _reporting_period(period)
    items = await services.my_organizations(user, p)
    return shapes.MyOrganizationsOut(period=p.code, end=p.end.isoformat(), organizations=[
        shapes.MyOrganizationOut(uscc=i["org"].uscc, name=i["org"].name, kind=i["org"].kind,
                                 report=shapes.ReportOut.of(i["report"]) if i["report"] else None)
        for i in items])


async def _reporting_period(code: str | None):
    if code:
        return await report_period(code)
    current = await services.current_report_period()
    if current is None:
        raise NotFound("no_open_period", "period: no reporting period is open", field="period")
    return current


@post("/reports", opt={"roles": REPORTERS}, status_code=200)
async def api_submit_report(request: Request, data: JSONBody[shapes.ReportIn]
                            ) -> shapes.SubmittedOut:
    """Report for one organization: {period, uscc, party_members, formal_members, ...}."""
    values = data.as_data()
    report, action = await submit_one(current_user(request), values.pop("period"), values,
                                      web.language(request))
    return shapes.SubmittedOut(action=action, report=shapes.ReportOut.of(report))


@get("/reports", opt={"roles": ADMIN_LEADER}, response_headers=PAGED_HEADERS)
async def api_reports(period: PeriodCode = None, status: ReportStatus = None, page: PageNo = 1,
                      size: PageSize = API_SIZE) -> Response[list[shapes.ReportOut]]:
    """Reports of a period by credit code, optionally of one status (submitted, confirmed,
    returned), one page at a time (headers X-Total-Count, X-Page, X-Page-Size)."""
    qs = CoverageReport.filter(period_code=await period_or_default(period))
    if status:
        qs = qs.filter(status=status)
    pager = await paginate(qs.order_by("uscc", "id"), page, size)
    return paged([shapes.ReportOut.of(r) for r in pager.items], pager)


@post("/reports/{report_id:int}/confirm", opt={"roles": ADMIN_ONLY}, status_code=200)
async def api_confirm_report(request: Request, report_id: Id) -> shapes.ReportOut:
    """Accept a report: the registry takes its member counts and party organization change."""
    return shapes.ReportOut.of(await review.confirm(report_id, current_user(request)))


@post("/reports/{report_id:int}/return", opt={"roles": ADMIN_ONLY}, status_code=200)
async def api_return_report(request: Request, report_id: Id,
                            data: JSONBody[shapes.ReturnIn]) -> shapes.ReportOut:
    """Return a report with a reason; the instructor finds it in their inbox."""
    return shapes.ReportOut.of(await review.return_report(report_id, current_user(request),
                                                          data.reason or ""))


# -- workbooks -----------------------------------------------------------------------------
@get("/template", opt={"roles": REPORTERS}, media_type=downloads.XLSX)
async def api_template(request: Request, period: PeriodCode = None) -> Response:
    """The report workbook of the caller's organizations, pre-filled, with drop-downs."""
    user = current_user(request)
    p = await _reporting_period(period)
    data = await services.report_template_bytes(user, p, web.language(request))
    return download(data, f"报送模板_{p.code}_{user.username}.xlsx")


@get("/registry-template", opt={"roles": ADMIN_ONLY}, media_type=downloads.XLSX)
async def api_registry_template(request: Request, blank: FromQuery[bool] = False) -> Response:
    """The registry as an editable sheet (or a blank one) for the registry import."""
    data = await services.registry_template_bytes(web.language(request), blank=blank)
    return download(data, f"组织名册_{clock.today().isoformat()}.xlsx")


HANDLERS = [
    api_stats, api_drilldown, api_compliance, api_organizations, api_put_organization,
    api_close_organization, api_missing, api_decide_missing, api_my_organizations,
    api_submit_report, api_reports, api_confirm_report, api_return_report, api_template,
    api_registry_template,
]
