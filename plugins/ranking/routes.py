"""Pages of the ranking plugin (/ranking); its JSON API (/api/ranking) is api_routes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.params import URLEncodedBody
from litestar.response import Redirect, Template

from core import i18n, web
from core.errors import Invalid, KaoheError, NotFound
from core.orgs import OrgUnit, Period
from core.paging import DEFAULT_SIZE, paginate
from core.params import Id, PageNo, PageSize, PeriodCode, Slug, UnitCodeInPath, choice
from core.roles import ADMIN_LEADER, ADMIN_LEADER_OFFICER, ADMIN_OFFICER, ADMIN_ONLY
from core.scope import scope_for
from core.security import current_user
from core.web import download, language, page
from plugins.ranking import models, rankings, reports, shapes, subscriptions, values, workbook
from plugins.ranking.services import current_scheme, get_group, scheme_by_id, scheme_of
from plugins.ranking.shapes import f2

ADMIN = {"roles": ADMIN_ONLY}
# draft, objection (published, objections open), final, superseded
RankingStatus = choice(("draft", "objection", "final", "superseded"))
CheckFlag = choice(("1",))  # the compute form's "check missing values" button
READERS = {"roles": ADMIN_LEADER_OFFICER}
EXPORTERS = {"roles": ADMIN_LEADER}
OFFICERS = {"roles": ADMIN_OFFICER}


def _go(path: str, request: Request, key: str = "", **params: Any) -> Redirect:
    if key:
        msg = i18n.t(f"ranking.{key}", language(request), **params)
        path += ("&" if "?" in path else "?") + urlencode({"msg": msg})
    return Redirect(path=path)


async def visible_ranking(ranking_id: Id, request: Request) -> models.Ranking:
    """A draft is the admins' working copy: others see published rankings only."""
    ranking = await rankings.get_ranking(ranking_id)
    if ranking.status == "draft" and current_user(request).role != "admin":
        raise NotFound("unknown_ranking", f"ranking: no ranking #{ranking_id}", field="ranking")
    return ranking


async def _group_name(ranking: models.Ranking) -> str:
    scheme = scheme_of(await models.Scheme.get(id=ranking.scheme_id))
    group = scheme.group(ranking.group)
    return group.name if group else ranking.group


async def _defaults(period: str, group: str) -> tuple[Any, Any, str, str]:
    row, scheme = await current_scheme(required=False)
    if scheme is None:
        return None, None, period, group
    if not group:
        group = scheme.groups[0].key
    if not period:
        latest = await Period.filter(status="open").order_by("-end", "start").first() \
            or await Period.all().order_by("-end").first()
        period = latest.code if latest else ""
    return row, scheme, period, group


# The columns a ranking's page and JSON show: a row's scores and inputs (most of its bytes,
# decoded as JSON) are for the drill-down, which reads its one row whole.
LISTED = ("id", "position", "unit_code", "unit_name", "rank", "total", "prev_rank", "prev_total",
          "flag", "excluded", "missing", "aspects")


async def drilldown(ranking: models.Ranking, unit_code: str,
                    user: Any) -> shapes.DrilldownOut:
    """A unit's total taken apart: each aspect, each indicator's value, source and score."""
    row = await models.RankingRow.get_or_none(ranking=ranking, unit_code=unit_code)
    if row is None:
        raise NotFound("unit_not_ranked", f"unit: '{unit_code}' is not in ranking #{ranking.id}",
                       field="unit")
    if user.role == "unit_officer":
        unit = await OrgUnit.get_or_none(code=unit_code)
        scope = await scope_for(user)
        if unit is None or not scope.allows_unit_path(unit.path):
            raise NotFound("unit_not_ranked", f"unit: '{unit_code}' is outside your unit",
                           field="unit")
    scheme = scheme_of(await models.Scheme.get(id=ranking.scheme_id))
    entered = {v.indicator: v for v in await models.IndicatorValue.filter(
        period=ranking.period, unit_code=unit_code)}
    aspects = []
    for a in scheme.aspects:
        inds = []
        for i in a.indicators:
            frozen = row.inputs.get(i.key, {})
            value_row = entered.get(i.key)
            inds.append(shapes.IndicatorScoreOut(
                key=i.key, name=i.name, unit=i.unit, core=i.core, weight=str(i.weight),
                method=i.method, method_text=workbook.method_text(i), source=i.source,
                source_label=workbook.source_label(i.source), value=frozen.get("v"),
                sha256=frozen.get("h"), score=f2(row.scores.get(i.key)) or None,
                entered_by=value_row.updated_by if value_row and i.stored else "",
                origin=value_row.origin if value_row and i.stored else "",
                contribution=_contribution(row.scores.get(i.key), i.weight, a.weight)))
        aspects.append(shapes.AspectScoreOut(
            key=a.key, name=a.name, weight=str(a.weight),
            score=f2(row.aspects.get(a.key)) or None, indicators=inds))
    return shapes.DrilldownOut(ranking=shapes.RankingOut.of(ranking), unit=shapes.RowOut.of(row),
                               aspects=aspects)


def _contribution(score: str | None, weight: Decimal, aspect_weight: Decimal) -> str | None:
    if score is None:
        return None
    return str((Decimal(score) * weight * aspect_weight / 10000).quantize(Decimal("0.01")))


# -- pages -------------------------------------------------------------------------------------

@get("/", opt=READERS, include_in_schema=False)
async def index_page(request: Request, period: PeriodCode = "", group: Slug = "",
                     status: RankingStatus = "", check: CheckFlag = "",
                     page: PageNo = 1, size: PageSize = DEFAULT_SIZE) -> Template:
    """The rankings, filtered and paged; for admins the compute form, whose missing-value
    check (it gathers every indicator of the group) runs only when asked for."""
    user = current_user(request)
    scheme_row, scheme, compute_period, compute_group = await _defaults(period, group)
    qs = models.Ranking.all()
    if user.role != "admin":
        qs = qs.exclude(status="draft")
    for name, value in (("period", period), ("group", group), ("status", status)):
        if value:
            qs = qs.filter(**{name: value})
    pager = await paginate(qs.order_by("-id"), page, size, request)
    missing = None
    if user.role == "admin" and check and scheme is not None and compute_period and compute_group:
        try:
            missing = await values.missing_values(compute_period, compute_group,
                                                  language(request))
        except KaoheError as exc:
            missing = {"error": exc.message}
    periods = await Period.all().order_by("-end", "start")
    group_names = {g.key: g.name for g in scheme.groups} if scheme is not None else {}
    statuses = ("draft", "objection", "final", "superseded") if user.role == "admin" else (
        "objection", "final", "superseded")
    return web.page(request, "ranking/index.html", scheme=scheme, scheme_row=scheme_row,
                    rankings=pager.items, pager=pager, period=compute_period,
                    group=compute_group, periods=periods, missing=missing,
                    group_names=group_names, statuses=statuses,
                    q={"period": period or "", "group": group or "", "status": status or ""})


@post("/compute", opt=ADMIN, include_in_schema=False)
async def compute_page(request: Request, data: URLEncodedBody[dict[str, str]]) -> Redirect:
    ranking = await rankings.compute(data.get("period", ""), data.get("group", ""),
                                     current_user(request).username)
    return _go(rankings.link(ranking.id), request, "computed", id=ranking.id)


@get("/rankings/{ranking_id:int}", opt=READERS, include_in_schema=False)
async def ranking_page(request: Request, ranking_id: Id) -> Template:
    user = current_user(request)
    ranking = await visible_ranking(ranking_id, request)
    scheme = await scheme_by_id(ranking.scheme_id)
    rows = await models.RankingRow.filter(ranking=ranking).order_by("position").only(*LISTED)
    objections = await models.Objection.filter(ranking=ranking).order_by("id")
    own: list[str] = []
    if user.role == "unit_officer":
        scope = await scope_for(user)
        paths = {u.code: u.path for u in await OrgUnit.filter(
            code__in=[r.unit_code for r in rows])}
        own = [c for c, p in paths.items() if scope.allows_unit_path(p)]
        objections = [o for o in objections if o.unit_code in own]
    ranked = [r for r in rows if r.rank is not None]
    missing = rankings.missing_of(rows, scheme)
    return page(request, "ranking/ranking.html", ranking=ranking, scheme=scheme, rows=rows, f2=f2,
                missing=missing, missing_count=sum(len(e["units"]) for e in missing),
                objections=objections, own=own, today=rankings.today(),
                request_step=request.query_params.get("step", ""),
                # every ranked unit: the chart shows the top and the bottom of a long list
                chart_labels=[r.unit_name for r in ranked],
                chart_values=[float(r.total) for r in ranked])


@get("/rankings/{ranking_id:int}/units/{unit_code:str}", opt=READERS, include_in_schema=False)
async def unit_page(request: Request, ranking_id: Id,
                    unit_code: UnitCodeInPath) -> Template:
    ranking = await visible_ranking(ranking_id, request)
    detail = await drilldown(ranking, unit_code, current_user(request))
    return page(request, "ranking/unit.html", d=detail, ranking=ranking,
                group_name=await _group_name(ranking))


@post("/rankings/{ranking_id:int}/publish", opt=ADMIN, include_in_schema=False)
async def publish_page(request: Request, ranking_id: Id,
                       data: URLEncodedBody[dict[str, str]]) -> Redirect:
    if data.get("confirm") != "1":
        # Publishing cannot be undone: it is done from the step that says what it does.
        return Redirect(path=f"/ranking/rankings/{ranking_id}?step=publish#publish-step")
    ranking = await rankings.publish(ranking_id, current_user(request).username,
                                     request.app.state.settings,
                                     confirm_missing=data.get("confirm_missing") == "1")
    return _go(rankings.link(ranking.id), request, "published", id=ranking.id)


@post("/rankings/{ranking_id:int}/revise", opt=ADMIN, include_in_schema=False)
async def revise_page(request: Request, ranking_id: Id,
                      data: URLEncodedBody[dict[str, str]]) -> Redirect:
    new = await rankings.revise(ranking_id, data.get("reason", ""), current_user(request).username)
    return _go(rankings.link(new.id), request, "revised", id=new.id)


@get("/rankings/{ranking_id:int}/verify", opt=EXPORTERS, include_in_schema=False)
async def verify_page(request: Request, ranking_id: Id) -> Template:
    ranking = await visible_ranking(ranking_id, request)
    return page(request, "ranking/verify.html", ranking=ranking,
                v=await rankings.verify(ranking.id), group_name=await _group_name(ranking))


@get("/rankings/{ranking_id:int}/export", opt=EXPORTERS, include_in_schema=False)
async def export_page(request: Request, ranking_id: Id) -> Response:
    ranking = await visible_ranking(ranking_id, request)
    book = await workbook.book_of(ranking)
    return download(workbook.write(book), f"ranking_{ranking.period}_{ranking.group}_"
                                       f"r{ranking.revision}.xlsx")


@post("/rankings/{ranking_id:int}/objections", opt=OFFICERS, include_in_schema=False)
async def objection_page(request: Request, ranking_id: Id,
                         data: URLEncodedBody[dict[str, str]]) -> Redirect:
    await rankings.file_objection(ranking_id, current_user(request), data.get("unit", ""),
                                  data.get("reason", ""), data.get("indicator", ""))
    return _go(rankings.link(ranking_id), request, "objection_filed")


@post("/objections/{objection_id:int}/resolve", opt=ADMIN, include_in_schema=False)
async def resolve_page(request: Request, objection_id: Id,
                       data: URLEncodedBody[dict[str, str]]) -> Redirect:
    obj = await rankings.resolve_objection(objection_id, data.get("decision", ""),
                                           data.get("response", ""),
                                           current_user(request).username)
    return _go(rankings.link(obj.ranking_id), request, "objection_resolved")


@get("/values", opt=ADMIN, include_in_schema=False)
async def values_page(request: Request, period: PeriodCode = "",
                      group: Slug = "") -> Template:
    _, scheme, period, group = await _defaults(period, group)
    if scheme is None:  # nothing to enter yet: say so on the page
        return page(request, "ranking/values.html", scheme=None)
    g = get_group(scheme, group)
    grid = await values.grid(period, g, scheme)
    frozen = await values.published_units(period, [u.code for u in grid["units"]])
    periods = await Period.all().order_by("-end", "start")
    closed = await Period.filter(code=period, status="closed").exists()
    return page(request, "ranking/values.html", scheme=scheme, group=g, period=period,
                periods=periods, grid=grid, frozen=frozen, closed=closed, errors={},
                posted={})


@post("/values", opt=ADMIN, include_in_schema=False)
async def values_save(request: Request, data: URLEncodedBody[dict[str, str]]) -> Any:
    """Cells are named v:UNIT:INDICATOR; only cells that differ from what was shown are sent
    as changes (the form carries the shown value as o:UNIT:INDICATOR)."""
    period, group = data.get("period", ""), data.get("group", "")
    entries = []
    for name, raw in data.items():
        if not name.startswith("v:"):
            continue
        _, unit, key = name.split(":", 2)
        if raw.strip() == data.get(f"o:{unit}:{key}", "").strip():
            continue
        entries.append(values.Entry(unit, key, raw, where=f"{unit}/{key}"))
    try:
        counts = await values.set_values(period, group, entries, origin="grid",
                                         actor=current_user(request).username,
                                         lang=language(request))
    except Invalid as exc:
        _, scheme = await current_scheme()
        g = get_group(scheme, group)
        grid = await values.grid(period, g, scheme)
        # Each cell's problem beside it (already in the user's language); the summary counts.
        errors = {f"{d.get('unit')}:{d.get('indicator')}": d.get("problem") or d["message"]
                  for d in (exc.details or []) if isinstance(d, dict)}
        lang = language(request)
        problem = (i18n.t("ranking.values_refused", lang, n=len(exc.details))
                   if isinstance(exc.details, list) else exc.text(lang))
        return page(request, "ranking/values.html", status_code=422, scheme=scheme, group=g,
                    period=period, periods=await Period.all().order_by("-end", "start"),
                    grid=grid, frozen={}, closed=False, errors=errors, posted=data,
                    problem=problem)
    return _go(f"/ranking/values?{urlencode({'period': period, 'group': group})}", request,
               "values_saved", **counts)


@get("/subscriptions", opt=ADMIN, include_in_schema=False)
async def subscriptions_page(request: Request, page: PageNo = 1,
                             size: PageSize = DEFAULT_SIZE) -> Template:
    subs = await models.Subscription.all().order_by("key")
    upcoming = {s.id: [reports._local(t) for t in await subscriptions.next_times(s, 2)]
                for s in subs if s.active}
    pager = await paginate(models.Firing.all().order_by("-id"), page, size, request)
    await models.Firing.fetch_for_list(pager.items, "subscription", "deliveries")
    return web.page(request, "ranking/subscriptions.html", subs=subs, upcoming=upcoming,
                    firings=pager.items, pager=pager, form={}, problem="",
                    **await _subscription_choices())


async def _subscription_choices() -> dict[str, Any]:
    """Exporters by title and peer groups by name, as the definition calls them: the page
    never shows an exporter's or a group's key."""
    _, scheme = await current_scheme(required=False)
    groups = [(g.key, g.name) for g in (scheme.groups if scheme else [])]
    exporters = sorted(subscriptions.all_exporters().items())
    return {"exporters": [(name, exp.title) for name, exp in exporters],
            "exporter_titles": {name: exp.title for name, exp in exporters},
            "groups": groups, "group_names": dict(groups)}


@post("/subscriptions", opt=ADMIN, include_in_schema=False)
async def subscription_create(request: Request, data: URLEncodedBody[dict[str, str]]) -> Any:
    """The older one-line form (key, recipients text); the page now offers
    /ranking/subscriptions/new. A refusal is answered on the new form, in the user's words."""
    raw = form_subscription(data)
    try:
        sub = await subscriptions.save(raw)
    except Invalid as exc:
        from plugins.ranking.subscription_routes import new_page_refused

        return await new_page_refused(request, data, exc)
    return _go("/ranking/subscriptions", request, "subscription_saved", name=sub.title)


def form_subscription(data: dict[str, str]) -> dict[str, Any]:
    """A subscription from the page's form: recipients one per line (user name, role:NAME,
    an address, optionally "address > unit code" for a district's detail)."""
    recipients: list[dict[str, str]] = []
    for line in data.get("recipients", "").replace(",", "\n").splitlines():
        line = line.strip()
        if not line:
            continue
        detail = ""
        if ">" in line:
            line, detail = (p.strip() for p in line.split(">", 1))
        if line.startswith("role:"):
            recipients.append({"role": line[5:].strip()})
        elif "@" in line:
            recipients.append({"email": line, **({"detail_unit": detail} if detail else {})})
        else:
            recipients.append({"user": line})
    raw: dict[str, Any] = {k: data.get(k, "").strip() for k in (
        "key", "title", "exporter", "group", "unit", "period_rule", "period_kind", "cron",
        "calendar", "detail_group")}
    raw["recipients"] = recipients
    raw["active"] = data.get("active", "1") == "1"
    return {k: v for k, v in raw.items() if v != "" or k in ("key", "title", "exporter", "cron")}


@post("/subscriptions/{sub_id:int}/toggle", opt=ADMIN, include_in_schema=False)
async def subscription_toggle(request: Request, sub_id: Id) -> Redirect:
    sub = await subscriptions.get(sub_id)
    await subscriptions.set_active(sub, not sub.active)
    return _go("/ranking/subscriptions", request, "subscription_saved", name=sub.title)


@post("/subscriptions/{sub_id:int}/run", opt=ADMIN, include_in_schema=False)
async def subscription_run(request: Request, sub_id: Id) -> Redirect:
    sub = await subscriptions.get(sub_id)
    firing = await reports.run_now(request.app.state.settings, sub)
    return _go(f"/ranking/subscriptions/{sub.id}", request, "fired", status=firing.status)


@get("/subscriptions/{sub_id:int}", opt=ADMIN, include_in_schema=False)
async def subscription_page(request: Request, sub_id: Id, page: PageNo = 1,
                            size: PageSize = DEFAULT_SIZE) -> Template:
    sub = await subscriptions.get(sub_id)
    await reports.sync_deliveries()
    pager = await paginate(models.Firing.filter(subscription=sub).order_by("-id"), page, size,
                           request)
    await models.Firing.fetch_for_list(pager.items, "deliveries")
    return web.page(request, "ranking/subscription.html", sub=sub, firings=pager.items,
                    pager=pager, dry=await reports.dry_run(sub), **await _subscription_choices())


PAGES = [index_page, compute_page, ranking_page, unit_page, publish_page, revise_page,
         verify_page, export_page, objection_page, resolve_page, values_page, values_save,
         subscriptions_page, subscription_create, subscription_toggle, subscription_run,
         subscription_page]
