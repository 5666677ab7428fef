"""Pages under /coverage: the instructor's own page (phone-sized), statistics with
drill-down, the admin's registry, review and compliance pages, and the dashboard panels."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.params import FromPath, Parameter, URLEncodedBody
from litestar.response import Redirect, Response, Template

from core import i18n, unit_picker, web
from core.errors import Invalid
from core.orgs import Period
from core.paging import DEFAULT_SIZE, paginate
from core.params import Code12, Id, PageNo, PageSize, PeriodCode, Search, Slug, UnitCode, choice
from core.roles import ADMIN_LEADER, ADMIN_ONLY, INSTRUCTOR_ONLY
from core.security import current_user
from plugins.coverage import (
    codes,
    compliance,
    listing,
    registry,
    review,
    services,
    stats,
)
from plugins.coverage.config import definition
from plugins.coverage.models import (
    REPORT_STATUSES,
    CoverageReport,
    MissingOrganization,
    Organization,
)
from plugins.coverage.reporting import report_period, submit_one
from plugins.coverage.routes import READERS, REPORTERS, period_or_default
from plugins.coverage.workbooks import REPORT_FIELDS

ReportStatus = choice(REPORT_STATUSES)
ComplianceState = choice(listing.COMPLIANCE_STATES)
GridsToggle = Annotated[bool, Parameter(description="也列出社区以下的网格和居委会")]
DrillTab = choice(tuple(dict.fromkeys(t for tabs in listing.TABS.values() for t in tabs)))


def _t(request: Request):
    lang = web.language(request)
    return lambda key, **kw: i18n.t(key, lang, **kw)


def _back(path: str, **params: Any) -> Redirect:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return Redirect(path=f"{path}?{query}" if query else path)


# -- the instructor's page -----------------------------------------------------------------
@get("/", opt={"roles": INSTRUCTOR_ONLY}, include_in_schema=False)
async def mine(request: Request, period: PeriodCode = None) -> Template:
    user = current_user(request)
    periods = await services.open_report_periods()
    current = (await report_period(period)) if period else await services.current_report_period()
    items, left = [], None
    if current is not None:
        items = await services.my_organizations(user, current)
        left = await services.working_days_left(current)
    done = sum(1 for i in items if i["report"] and i["report"].status in compliance.COUNTED)
    return web.page(request, "coverage/mine.html", periods=periods, current=current, items=items,
                    left=left, done=done, codes=codes)


@get("/report/{uscc:str}", opt={"roles": REPORTERS}, include_in_schema=False)
async def report_form(request: Request, uscc: FromPath[str], period: PeriodCode = None
                      ) -> Template:
    current = (await report_period(period)) if period else await services.current_report_period()
    if current is None:
        raise Invalid("no_open_period", _t(request)("coverage.page.no_open_period"), field="period")
    org = await _reportable(request, uscc)
    report = await CoverageReport.get_or_none(uscc=org.uscc, period_code=current.code)
    values = {k: getattr(report, k) for k in REPORT_FIELDS} if report else {
        "formal_members": org.formal_members, "probationary_members": org.probationary_members,
        "party_members": org.formal_members + org.probationary_members}
    return web.page(request, "coverage/report_form.html", org=org, period=current, report=report,
                    values=values, errors={}, codes=codes)


async def _reportable(request: Request, uscc: str) -> Organization:
    from core.errors import Forbidden

    user = current_user(request)
    org = await registry.org_by_uscc(uscc.strip().upper())
    if user.role == "instructor" and org.id not in await services.assigned_org_ids(user):
        raise Forbidden("not_assigned", i18n.t("coverage.err.not_assigned", web.language(request),
                                               name=org.name, value=org.uscc), field="uscc")
    return org


@post("/report/{uscc:str}", opt={"roles": REPORTERS}, include_in_schema=False)
async def report_submit(request: Request, uscc: FromPath[str],
                        data: URLEncodedBody[dict[str, str]]) -> Template | Redirect:
    org = await _reportable(request, uscc)
    period = await report_period(data.get("period", ""))
    values = {k: data.get(k) for k in REPORT_FIELDS}
    try:
        _, action = await submit_one(current_user(request), period.code, {**values, "uscc": org.uscc},
                                     web.language(request))
    except Invalid as exc:
        errors = {d["field"]: d["message"] for d in exc.details or []} or {exc.field: exc.message}
        report = await CoverageReport.get_or_none(uscc=org.uscc, period_code=period.code)
        return web.page(request, "coverage/report_form.html", status_code=422, org=org,
                        period=period, report=report, values=values, errors=errors, codes=codes)
    return _back("/coverage/", period=period.code,
                 msg=_t(request)("coverage.page.saved_org", name=org.name))


# -- statistics ----------------------------------------------------------------------------
@get("/stats", opt={"roles": READERS}, include_in_schema=False)
async def stats_page(request: Request, period: PeriodCode = None,
                     unit: UnitCode = None, kind: Code12 = "total", grids: GridsToggle = False
                     ) -> Template:
    code = await period_or_default(period)
    root = await services.scoped_unit(current_user(request), unit)
    if kind not in stats.SCOPES:
        raise Invalid("bad_kind", f"kind: '{kind}' is not one of {', '.join(stats.SCOPES)}",
                      field="kind")
    table = await services.stats_table(code, root, grids=grids)
    src = await stats.source_for(code)
    periods = await Period.all().order_by("-end")
    return web.page(request, "coverage/stats.html", period=code, root=root, table=table,
                    kind=kind, src=src, periods=periods, figures=FIGURE_COLUMNS, grids=grids,
                    has_grids=await services.has_units_below_communities(root))


FIGURE_COLUMNS = ("orgs", "party_orgs", "own", "joint", "org_rate", "instructor_only",
                  "work_rate", "instructors", "should_establish", "demo_sites")


@get("/drilldown", opt={"roles": READERS}, include_in_schema=False)
async def drilldown_page(request: Request, figure: Slug = "orgs",
                         period: PeriodCode = None, unit: UnitCode = None,
                         kind: Code12 = None, tab: DrillTab = None, q: Search = "",
                         page: PageNo = 1, size: PageSize = DEFAULT_SIZE) -> Template:
    """The organizations (party organizations, instructors) behind a figure, one page at a
    time; a rate has a tab for its numerator and one for its denominator."""
    code = await period_or_default(period)
    root = await services.scoped_unit(current_user(request), unit)
    result = await listing.drilldown_page(code, root, kind, figure, tab, q or "", page, size,
                                          request)
    return web.page(request, "coverage/drilldown.html", period=code, root=root, kind=kind or "total",
                    figure=figure, result=result, pager=result["pager"], q=q or "", codes=codes)


# -- registry ------------------------------------------------------------------------------
@get("/registry", opt={"roles": ADMIN_ONLY}, include_in_schema=False)
async def registry_page(request: Request, q: Search = "", page: PageNo = 1,
                        size: PageSize = DEFAULT_SIZE) -> Template:
    """The registry, searched by name or by the first characters of the credit code."""
    q = (q or "").strip()
    qs = Organization.all()
    if q:
        qs = qs.filter(uscc__startswith=q.upper()) if q[:1].isdigit() else qs.filter(
            name__icontains=q)
    pager = await paginate(qs.select_related("community").order_by("uscc"), page, size, request)
    total = await Organization.all().count()
    missing = await MissingOrganization.filter(decision="").select_related("organization")
    return web.page(request, "coverage/registry.html", orgs=pager.items, pager=pager, total=total,
                    q=q, missing=missing, codes=codes)


@post("/registry/missing/{mark_id:int}", opt={"roles": ADMIN_ONLY}, include_in_schema=False)
async def registry_missing(request: Request, mark_id: Id,
                           data: URLEncodedBody[dict[str, str]]) -> Redirect:
    from plugins.coverage.codes import FieldError, check_date

    try:
        closed_on = check_date(data.get("closed_on"), "closed_on")
    except FieldError as exc:
        raise Invalid("invalid_closed_on", f"closed_on: {exc.message()}", field="closed_on") from None
    await registry.decide_missing(mark_id, data.get("decision", ""), current_user(request).username,
                                  closed_on=closed_on, reason=data.get("reason", ""))
    return _back("/coverage/registry")


# -- review --------------------------------------------------------------------------------
async def _unit_filter(request: Request, text: str) -> tuple[str, dict[str, str]]:
    lang = web.language(request)
    return await unit_picker.narrowing(
        text, field="unit", label=i18n.t("coverage.list.unit_code", lang), lang=lang,
        reach=await unit_picker.reach_for(current_user(request)))


@get("/review", opt={"roles": ADMIN_ONLY}, include_in_schema=False)
async def review_page(request: Request, period: PeriodCode = None,
                      status: ReportStatus = "submitted", q: Search = "", unit: Search = "",
                      page: PageNo = 1, size: PageSize = DEFAULT_SIZE) -> Template:
    code = await period_or_default(period)
    unit_code, errors = await _unit_filter(request, unit or "")
    qs = review.matching(code, status or "", q or "", unit_code)
    pager = await paginate(qs.select_related("organization", "submitted_by").order_by("uscc"),
                           page, size, request)
    periods = await Period.filter(kind=(await definition()).report_period_kind
                                  ).order_by("-end")
    return web.page(request, "coverage/review.html", reports=pager.items, pager=pager,
                    period=code, status=status or "", q=q or "", unit=unit or "",
                    unit_code=unit_code, errors=errors, periods=periods, codes=codes,
                    status_code=422 if errors else 200)


def _done(request: Request, path: str, **params: Any) -> Response | Redirect:
    """After a form post: htmx navigates there itself, a plain form follows the redirect."""
    if request.headers.get("hx-request") == "true":
        query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
        return Response(content="", status_code=200,
                        headers={"HX-Redirect": f"{path}?{query}" if query else path})
    return _back(path, **params)


@post("/review/confirm", opt={"roles": ADMIN_ONLY}, include_in_schema=False)
async def review_confirm(request: Request) -> Response | Redirect:
    """Confirm the reports ticked on the page (in one transaction, like confirming all)."""
    form = await request.form()
    ids = [int(v) for v in form.getall("ids", []) if str(v).isdigit() and len(str(v)) < 16]
    period = await period_or_default(_form_text(form, "period", 16, request) or None)
    done = await review.confirm_matching(period, current_user(request), ids=ids) if ids else 0
    return _done(request, "/coverage/review", period=period,
                 msg=_t(request)("coverage.list.confirmed_n", n=done))


def _form_text(form: Any, name: str, max_length: int, request: Request) -> str:
    value = str(form.get(name) or "").strip()
    if len(value) > max_length:
        raise Invalid("too_long", i18n.t("coverage.list.too_long", web.language(request),
                                         field=_t(request)(f"coverage.list.field_{name}"),
                                         max=max_length), field=name)
    return value


@get("/review/confirm-all", opt={"roles": ADMIN_ONLY}, include_in_schema=False)
async def review_confirm_all_ask(request: Request, period: PeriodCode = None, q: Search = "",
                                 unit: UnitCode = "") -> Template:
    """The confirmation step: how many reports confirming all would confirm."""
    code = await period_or_default(period)
    count = await review.matching(code, "submitted", q or "", unit or "").count()
    return web.page(request, "coverage/review_confirm_all.html", period=code, q=q or "",
                    unit=unit or "", count=count)


@post("/review/confirm-all", opt={"roles": ADMIN_ONLY}, include_in_schema=False)
async def review_confirm_all(request: Request) -> Response | Redirect:
    """Confirm every submitted report that matches the review page's filters."""
    form = await request.form()
    period = await period_or_default(_form_text(form, "period", 16, request) or None)
    q, unit = _form_text(form, "q", 100, request), _form_text(form, "unit", 32, request)
    done = await review.confirm_matching(period, current_user(request), q=q, unit=unit)
    return _done(request, "/coverage/review", period=period, q=q, unit=unit,
                 msg=_t(request)("coverage.list.confirmed_n", n=done))


@post("/review/{report_id:int}/return", opt={"roles": ADMIN_ONLY}, include_in_schema=False)
async def review_return(request: Request, report_id: Id,
                        data: URLEncodedBody[dict[str, str]]) -> Redirect:
    report = await review.return_report(report_id, current_user(request), data.get("reason", ""))
    return _back("/coverage/review", period=report.period_code,
                 msg=_t(request)("coverage.page.returned_org", uscc=report.uscc))


@get("/compliance", opt={"roles": ADMIN_LEADER}, include_in_schema=False)
async def compliance_page(request: Request, period: PeriodCode = None, unit: Search = "",
                          reporting: ComplianceState = "", q: Search = "", page: PageNo = 1,
                          size: PageSize = DEFAULT_SIZE) -> Template:
    code = await period_or_default(period)
    unit_code, errors = await _unit_filter(request, unit or "")
    pager = await listing.compliance_page(code, unit_code, reporting or "", q or "", page,
                                          size, request)
    periods = await Period.all().order_by("-end")
    return web.page(request, "coverage/compliance.html", rows=pager.items, pager=pager,
                    period=code, periods=periods, unit=unit or "", reporting=reporting or "",
                    q=q or "", errors=errors, states=listing.COMPLIANCE_STATES,
                    status_code=422 if errors else 200)


PAGES = [mine, report_form, report_submit, stats_page,
         drilldown_page, registry_page, registry_missing,
         review_page, review_confirm, review_confirm_all_ask, review_confirm_all, review_return,
         compliance_page]
