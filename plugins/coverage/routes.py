"""The JSON API under /api/coverage (pages are in page_routes.py)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from core import clock, downloads, web
from core.errors import Invalid, NotFound
from core.params import Code12, Id, Limit, PeriodCode, Search, Slug, UnitCode, choice
from core.security import current_user
from core.web import download
from plugins.coverage import compliance, registry, review, services, stats
from plugins.coverage.codes import FieldError, check_date
from plugins.coverage.models import (
    REPORT_STATUSES,
    CoverageReport,
    MissingOrganization,
    Organization,
)
from plugins.coverage.reporting import report_period, submit_one

READERS = ("admin", "leader", "unit_officer")
REPORTERS = ("admin", "instructor")
ReportStatus = choice(REPORT_STATUSES)


async def period_or_default(period: str | None) -> str:
    code = period or await services.default_stats_period()
    if not code:
        raise NotFound("no_period", "period: no period is defined", field="period")
    return code


def unit_json(unit: Any) -> dict[str, Any]:
    return {"code": unit.code, "name": unit.name, "level": unit.level}


def figures_json(figures: stats.UnitFigures) -> dict[str, Any]:
    return {kind: figures[kind].as_dict() for kind in stats.SCOPES}


def report_json(r: CoverageReport) -> dict[str, Any]:
    return {"id": r.id, "uscc": r.uscc, "period": r.period_code, "status": r.status,
            "party_members": r.party_members, "formal_members": r.formal_members,
            "probationary_members": r.probationary_members,
            "party_org_change": r.party_org_change, "party_org_type": r.party_org_type,
            "change_date": r.change_date.isoformat() if r.change_date else None,
            "secretary": r.secretary, "visits": r.visits, "activities": r.activities,
            "remarks": r.remarks, "return_reason": r.return_reason,
            "submitted_at": r.submitted_at.isoformat() if r.submitted_at else None,
            "reviewed_by": r.reviewed_by}


# -- figures -------------------------------------------------------------------------------
@get("/stats", opt={"roles": READERS})
async def api_stats(request: Request, period: PeriodCode = None,
                    unit: UnitCode = None) -> dict[str, Any]:
    """Coverage figures of a unit's subtree and of each of its child units, per kind."""
    code = await period_or_default(period)
    root = await services.scoped_unit(current_user(request), unit)
    table = await services.stats_table(code, root)
    src = await stats.source_for(code)
    return {"period": code, "as_of": src.as_of.isoformat(), "frozen": src.frozen,
            "unit": unit_json(root), "figures": figures_json(table[0]["figures"]),
            "children": [{**unit_json(item["unit"]), "depth": item["depth"],
                          "figures": figures_json(item["figures"])} for item in table[1:]]}


@get("/drilldown", opt={"roles": READERS})
async def api_drilldown(request: Request, figure: Slug, period: PeriodCode = None,
                        unit: UnitCode = None,
                        kind: Code12 = None) -> dict[str, Any]:
    """The organizations (or instructors) behind one figure: numerator and denominator of a
    rate, the members of a count."""
    code = await period_or_default(period)
    root = await services.scoped_unit(current_user(request), unit)
    return {"period": code, "unit": unit_json(root), "kind": kind or "total",
            **await stats.drilldown(code, root, kind, figure)}


@get("/compliance", opt={"roles": ("admin", "leader")})
async def api_compliance(period: PeriodCode = None) -> list[dict[str, Any]]:
    """Reporting per instructor: assigned organizations, reported, rate, last report."""
    code = await period_or_default(period)
    return [{**r, "rate": float(r["rate"]) if r["rate"] is not None else None,
             "last_report_at": r["last_report_at"].isoformat() if r["last_report_at"] else None}
            for r in await compliance.by_instructor(code)]


# -- registry ------------------------------------------------------------------------------
@get("/organizations", opt={"roles": ("admin", "leader", "unit_officer", "instructor")})
async def api_organizations(request: Request, q: Search = "",
                            unit: UnitCode = None,
                            limit: Limit = 200) -> list[dict[str, Any]]:
    """Registry entries the caller may see (an instructor: their assigned ones)."""
    user = current_user(request)
    qs = Organization.all()
    if user.role == "instructor":
        qs = qs.filter(id__in=await services.assigned_org_ids(user))
    else:
        root = await services.scoped_unit(user, unit)
        qs = qs.filter(community__path__startswith=root.path)
    if q:
        qs = qs.filter(name__icontains=q) if not q[:1].isdigit() else qs.filter(uscc__startswith=q.upper())
    rows = await qs.select_related("community").order_by("uscc").limit(max(1, min(limit, 1000)))
    return [{"uscc": o.uscc, "name": o.name, "kind": o.kind, "industry": o.industry,
             "community": o.community.code, "employees": o.employees,
             "formal_members": o.formal_members, "probationary_members": o.probationary_members,
             "status": o.status, "demo_site": o.demo_site,
             "closed_on": o.closed_on.isoformat() if o.closed_on else None} for o in rows]


@put("/organizations/{uscc:str}", opt={"roles": ("admin",)})
async def api_put_organization(request: Request, uscc: FromPath[str],
                               data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
    """Create or update one organization with the registry sheet's fields (same checks)."""
    from plugins.coverage.registry_import import plan_registry, save_registry, typed_values

    lang = web.language(request)
    values, problems = typed_values({**data, "uscc": uscc}, lang)
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
    return {"action": plan.outcomes[0].action, **result}


@post("/organizations/{uscc:str}/close", opt={"roles": ("admin",)}, status_code=200)
async def api_close_organization(uscc: FromPath[str], data: JSONBody[dict[str, Any]]
                                 ) -> dict[str, Any]:
    """Close (注销) or move away (迁出) an organization from a date on; it is never deleted."""
    org = await registry.org_by_uscc(uscc)
    try:
        closed_on = check_date(data.get("closed_on"), "closed_on")
    except FieldError as exc:
        raise Invalid("invalid_closed_on", f"closed_on: {exc.message()}", field="closed_on") from None
    org = await registry.close_organization(org, status=data.get("status", "closed"),
                                            closed_on=closed_on, reason=str(data.get("reason", "")))
    return {"uscc": org.uscc, "status": org.status, "closed_on": org.closed_on.isoformat()}


@get("/missing", opt={"roles": ("admin",)})
async def api_missing() -> list[dict[str, Any]]:
    """Organizations a full registry import did not list, waiting for close or keep."""
    marks = await MissingOrganization.filter(decision="").select_related("organization",
                                                                        "registry_import")
    return [{"id": m.id, "uscc": m.organization.uscc, "name": m.organization.name,
             "import_id": m.registry_import_id,
             "imported_at": m.registry_import.imported_at.isoformat()} for m in marks]


@post("/missing/{mark_id:int}", opt={"roles": ("admin",)}, status_code=200)
async def api_decide_missing(request: Request, mark_id: Id,
                             data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
    """Decide `close` (with optional closed_on) or `keep` for a missing organization."""
    try:
        closed_on = check_date(data.get("closed_on"), "closed_on")
    except FieldError as exc:
        raise Invalid("invalid_closed_on", f"closed_on: {exc.message()}", field="closed_on") from None
    mark = await registry.decide_missing(mark_id, str(data.get("decision", "")),
                                         current_user(request).username, closed_on=closed_on,
                                         reason=str(data.get("reason", "")))
    return {"id": mark.id, "decision": mark.decision}


# -- reports -------------------------------------------------------------------------------
@get("/my-organizations", opt={"roles": REPORTERS})
async def api_my_organizations(request: Request, period: PeriodCode = None
                               ) -> dict[str, Any]:
    """The caller's organizations for a reporting period, with their report if any."""
    user = current_user(request)
    p = await _reporting_period(period)
    items = await services.my_organizations(user, p)
    return {"period": p.code, "end": p.end.isoformat(),
            "organizations": [{"uscc": i["org"].uscc, "name": i["org"].name,
                               "kind": i["org"].kind,
                               "report": report_json(i["report"]) if i["report"] else None}
                              for i in items]}


async def _reporting_period(code: str | None):
    if code:
        return await report_period(code)
    current = await services.current_report_period()
    if current is None:
        raise NotFound("no_open_period", "period: no reporting period is open", field="period")
    return current


@post("/reports", opt={"roles": REPORTERS}, status_code=200)
async def api_submit_report(request: Request, data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
    """Report for one organization: {period, uscc, party_members, formal_members, ...}."""
    period = data.get("period")
    if not period:
        raise Invalid("period_required", "period: required", field="period")
    report, action = await submit_one(current_user(request), str(period), data,
                                      web.language(request))
    return {"action": action, "report": report_json(report)}


@get("/reports", opt={"roles": ("admin", "leader")})
async def api_reports(period: PeriodCode = None, status: ReportStatus = None
                      ) -> list[dict[str, Any]]:
    """Reports of a period, optionally of one status (submitted, confirmed, returned)."""
    qs = CoverageReport.filter(period_code=await period_or_default(period))
    if status:
        qs = qs.filter(status=status)
    return [report_json(r) for r in await qs.order_by("uscc").limit(5000)]


@post("/reports/{report_id:int}/confirm", opt={"roles": ("admin",)}, status_code=200)
async def api_confirm_report(request: Request, report_id: Id) -> dict[str, Any]:
    """Accept a report: the registry takes its member counts and party organization change."""
    return report_json(await review.confirm(report_id, current_user(request)))


@post("/reports/{report_id:int}/return", opt={"roles": ("admin",)}, status_code=200)
async def api_return_report(request: Request, report_id: Id,
                            data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
    """Return a report with a reason; the instructor finds it in their inbox."""
    return report_json(await review.return_report(report_id, current_user(request),
                                                  str(data.get("reason", ""))))


# -- workbooks -----------------------------------------------------------------------------
@get("/template", opt={"roles": REPORTERS}, media_type=downloads.XLSX)
async def api_template(request: Request, period: PeriodCode = None) -> Response:
    """The report workbook of the caller's organizations, pre-filled, with drop-downs."""
    user = current_user(request)
    p = await _reporting_period(period)
    data = await services.report_template_bytes(user, p, web.language(request))
    return download(data, f"报送模板_{p.code}_{user.username}.xlsx")


@get("/registry-template", opt={"roles": ("admin",)}, media_type=downloads.XLSX)
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
