"""JSON API of the ranking plugin (/api/ranking): values, rankings, objections and report
subscriptions, each body typed in shapes.py."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
from litestar import Request, Response, get, post, put
from litestar.params import FromQuery, JSONBody

from core.orgs import OrgUnit
from core.paging import paged_headers, paginate
from core.params import Id, PageNo, PageSize, PeriodCode, Slug, UnitCodeInPath
from core.roles import ADMIN_LEADER, ADMIN_LEADER_OFFICER, ADMIN_OFFICER, ADMIN_ONLY
from core.scope import scope_for
from core.security import current_user
from core.web import language
from plugins.ranking import models, rankings, reports, shapes, subscriptions, values
from plugins.ranking.routes import LISTED, RankingStatus, drilldown, visible_ranking
from plugins.ranking.services import current_scheme, get_group

ADMIN = {"roles": ADMIN_ONLY}
READERS = {"roles": ADMIN_LEADER_OFFICER}
EXPORTERS = {"roles": ADMIN_LEADER}
OFFICERS = {"roles": ADMIN_OFFICER}
API_SIZE = 200  # a JSON client gets the largest page unless it asks for less


def _paged(items: list[Any], pager: Any) -> Response:
    """One page of a JSON list; the whole count and the page in headers, so that a client
    knows there is more (the body stays the list it always was)."""
    return Response(items, headers={"X-Total-Count": str(pager.total), "X-Page": str(pager.page),
                                    "X-Page-Size": str(pager.size)})


@get("/scheme", opt=READERS, tags=["ranking"])
async def api_scheme() -> shapes.SchemeOut:
    """The current indicator scheme with its definition version."""
    row, _ = await current_scheme()
    return shapes.SchemeOut.of(row)


@get("/values", opt=ADMIN, tags=["ranking"])
async def api_values(period: PeriodCode, group: Slug) -> shapes.ValuesOut:
    """Entered values of a period for a peer group's units."""
    _, scheme = await current_scheme()
    grid = await values.grid(period, get_group(scheme, group), scheme)
    return shapes.ValuesOut(period=period, group=group, values=[shapes.ValueOut(
        unit=c.unit_code, indicator=c.indicator, value=str(Decimal(c.value)), origin=c.origin,
        updated_by=c.updated_by, updated_at=c.updated_at.isoformat() if c.updated_at else None)
        for c in grid["cells"].values()])


@put("/values", opt=ADMIN, tags=["ranking"])
async def api_set_values(request: Request,
                         data: JSONBody[shapes.ValuesIn]) -> shapes.SetValuesOut:
    """Set values, all or nothing; a null value clears it."""
    entries = [values.Entry(v.unit, v.indicator, v.value, where=f"values[{n}]")
               for n, v in enumerate(data.values)]
    counts = await values.set_values(data.period, data.group, entries, origin="api",
                                     actor=current_user(request).username)
    return shapes.SetValuesOut(**counts)


@get("/missing", opt=ADMIN, tags=["ranking"])
async def api_missing(request: Request, period: PeriodCode, group: Slug) -> shapes.MissingOut:
    """What is missing before computing, with the definition's missing-value policy. An
    unknown period is refused (404, field period)."""
    found = await values.missing_values(period, group, language(request))
    return shapes.MissingOut(**{**found, "missing": [
        shapes.MissingUnitOut(unit_code=m["unit_code"], unit_name=m["unit_name"], indicators=[
            shapes.MissingIndicatorOut(**i) for i in m["indicators"]])
        for m in found["missing"]]})


@post("/rankings", opt=ADMIN, tags=["ranking"], status_code=201)
async def api_compute(request: Request, data: JSONBody[shapes.ComputeIn]) -> shapes.RankingOut:
    """Compute (or recompute) the draft ranking of a period and peer group."""
    ranking = await rankings.compute(data.period, data.group, current_user(request).username)
    return shapes.RankingOut.of(ranking)


@get("/rankings", opt=READERS, tags=["ranking"], response_headers=paged_headers())
async def api_rankings(request: Request, period: PeriodCode = "", group: Slug = "",
                       status: RankingStatus = "", page: PageNo = 1,
                       size: PageSize = API_SIZE) -> Response[list[shapes.RankingOut]]:
    """Rankings, newest first (drafts only for admins), one page at a time (headers
    X-Total-Count, X-Page, X-Page-Size)."""
    qs = models.Ranking.all()
    if current_user(request).role != "admin":
        qs = qs.exclude(status="draft")
    for name, value in (("period", period), ("group", group), ("status", status)):
        if value:
            qs = qs.filter(**{name: value})
    pager = await paginate(qs.order_by("-id"), page, size)
    return _paged([shapes.RankingOut.of(r) for r in pager.items], pager)


@get("/rankings/{ranking_id:int}", opt=READERS, tags=["ranking"])
async def api_ranking(request: Request, ranking_id: Id) -> shapes.RankingDetailOut:
    """One ranking with every unit's place, total, aspect scores and change."""
    ranking = await visible_ranking(ranking_id, request)
    rows = await models.RankingRow.filter(ranking=ranking).order_by("position").only(*LISTED)
    return shapes.RankingDetailOut.build(ranking, rows)


@get("/rankings/{ranking_id:int}/units/{unit_code:str}", opt=READERS, tags=["ranking"])
async def api_unit(request: Request, ranking_id: Id,
                   unit_code: UnitCodeInPath) -> shapes.DrilldownOut:
    """Drill-down: a unit's total → aspects → each indicator's value, source and score."""
    ranking = await visible_ranking(ranking_id, request)
    return await drilldown(ranking, unit_code, current_user(request))


@post("/rankings/{ranking_id:int}/publish", opt=ADMIN, tags=["ranking"], status_code=200)
async def api_publish(request: Request, ranking_id: Id,
                      confirm_missing: FromQuery[bool] = False) -> shapes.RankingOut:
    """Publish a draft: frozen with its definition version and the hash of every input. While
    values are missing it is refused (409 missing_values, naming them) unless
    `?confirm_missing=true`."""
    return shapes.RankingOut.of(await rankings.publish(
        ranking_id, current_user(request).username, request.app.state.settings,
        confirm_missing=confirm_missing))


@get("/rankings/{ranking_id:int}/verify", opt=EXPORTERS, tags=["ranking"])
async def api_verify(request: Request, ranking_id: Id) -> shapes.VerifyOut:
    """Replay a ranking: identical, or exactly which inputs changed."""
    ranking = await visible_ranking(ranking_id, request)
    return msgspec.convert(await rankings.verify(ranking.id), shapes.VerifyOut)


@post("/rankings/{ranking_id:int}/revise", opt=ADMIN, tags=["ranking"], status_code=201)
async def api_revise(request: Request, ranking_id: Id,
                     data: JSONBody[shapes.ReviseIn]) -> shapes.RankingOut:
    """Start a new draft revision of a published ranking (the old one stays as it was)."""
    return shapes.RankingOut.of(await rankings.revise(ranking_id, data.reason,
                                                      current_user(request).username))


@get("/rankings/{ranking_id:int}/objections", opt=READERS, tags=["ranking"])
async def api_objections(request: Request, ranking_id: Id) -> list[shapes.ObjectionOut]:
    """Objections to a ranking (a unit officer sees their own unit's)."""
    ranking = await visible_ranking(ranking_id, request)
    user = current_user(request)
    items = await models.Objection.filter(ranking=ranking).order_by("id")
    if user.role == "unit_officer":
        scope = await scope_for(user)
        paths = dict(await OrgUnit.filter(code__in=[o.unit_code for o in items])
                     .values_list("code", "path"))
        items = [o for o in items if scope.allows_unit_path(paths.get(o.unit_code, ""))]
    return [shapes.ObjectionOut.of(o) for o in items]


@post("/rankings/{ranking_id:int}/objections", opt=OFFICERS, tags=["ranking"], status_code=201)
async def api_object(request: Request, ranking_id: Id,
                     data: JSONBody[shapes.ObjectionIn]) -> shapes.ObjectionOut:
    """File an objection within the window."""
    obj = await rankings.file_objection(ranking_id, current_user(request), data.unit,
                                        data.reason, data.indicator)
    return shapes.ObjectionOut.of(obj)


@post("/objections/{objection_id:int}/resolve", opt=ADMIN, tags=["ranking"], status_code=200)
async def api_resolve(request: Request, objection_id: Id,
                      data: JSONBody[shapes.ResolveIn]) -> shapes.ObjectionOut:
    """Decide an objection: upheld or rejected, with the response."""
    obj = await rankings.resolve_objection(objection_id, data.decision, data.response,
                                           current_user(request).username)
    return shapes.ObjectionOut.of(obj)


@get("/subscriptions", opt=ADMIN, tags=["ranking"])
async def api_subscriptions() -> list[shapes.SubscriptionOut]:
    """Report subscriptions."""
    return [shapes.SubscriptionOut.of(s)
            for s in await models.Subscription.all().order_by("key")]


@post("/subscriptions", opt=ADMIN, tags=["ranking"], status_code=201)
async def api_subscription_create(
        data: JSONBody[shapes.SubscriptionIn]) -> shapes.SubscriptionOut:
    """Create a subscription; an invalid cron rule or unknown exporter is refused by field."""
    return shapes.SubscriptionOut.of(await subscriptions.save(data.as_raw()))


@put("/subscriptions/{sub_id:int}", opt=ADMIN, tags=["ranking"])
async def api_subscription_update(
        sub_id: Id, data: JSONBody[shapes.SubscriptionIn]) -> shapes.SubscriptionOut:
    """Replace a subscription's fields."""
    return shapes.SubscriptionOut.of(await subscriptions.save(data.as_raw(),
                                                              subscription_id=sub_id))


@post("/subscriptions/{sub_id:int}/run", opt=ADMIN, tags=["ranking"], status_code=200)
async def api_subscription_run(request: Request, sub_id: Id) -> shapes.FiringOut:
    """Fire a subscription now: build, archive, queue the mail."""
    sub = await subscriptions.get(sub_id)
    firing = await reports.run_now(request.app.state.settings, sub)
    return shapes.FiringOut.of(firing, await models.Delivery.filter(firing=firing))


@get("/subscriptions/{sub_id:int}/dry-run", opt=ADMIN, tags=["ranking"])
async def api_subscription_dry_run(sub_id: Id) -> shapes.DryRunOut:
    """Who would get what, without building or sending."""
    return msgspec.convert(await reports.dry_run(await subscriptions.get(sub_id)),
                           shapes.DryRunOut)


@get("/subscriptions/{sub_id:int}/deliveries", opt=ADMIN, tags=["ranking"],
     response_headers=paged_headers())
async def api_deliveries(sub_id: Id, page: PageNo = 1,
                         size: PageSize = API_SIZE) -> Response[list[shapes.FiringOut]]:
    """Firings of a subscription, newest first, with each recipient's delivery state; one
    page at a time (headers X-Total-Count, X-Page, X-Page-Size)."""
    sub = await subscriptions.get(sub_id)
    await reports.sync_deliveries()
    pager = await paginate(models.Firing.filter(subscription=sub).order_by("-id"), page, size)
    ids = [f.id for f in pager.items]
    by_firing: dict[int, list[models.Delivery]] = {i: [] for i in ids}
    for d in await models.Delivery.filter(firing_id__in=ids).order_by("id"):
        by_firing[d.firing_id].append(d)
    return _paged([shapes.FiringOut.of(f, by_firing[f.id]) for f in pager.items], pager)


API = [api_scheme, api_values, api_set_values, api_missing, api_compute, api_rankings,
       api_ranking, api_unit, api_publish, api_verify, api_revise, api_objections, api_object,
       api_resolve, api_subscriptions, api_subscription_create, api_subscription_update,
       api_subscription_run, api_subscription_dry_run, api_deliveries]
