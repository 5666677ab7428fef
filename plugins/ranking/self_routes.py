"""Pages of self-assessment (自评), review (审核评分) and panel ballots (民主测评)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery, MultipartBody, URLEncodedBody
from litestar.response import Redirect, Template

from core import web
from core.downloads import OCTET
from core.errors import Forbidden, KaoheError, NotFound
from core.orgs import OrgUnit
from core.paging import DEFAULT_SIZE, paginate
from core.params import Id, PageNo, PageSize
from core.roles import ADMIN_OFFICER, ADMIN_OFFICER_INSTRUCTOR, ALL
from core.scope import scope_for
from core.security import current_user
from core.web import download, page
from plugins.ranking import annual_models as am
from plugins.ranking import panel_rating, selfassess
from plugins.ranking.annual import current_annual
from plugins.ranking.scoring import num
from plugins.ranking.services import get_group, group_units

OFFICERS = {"roles": ADMIN_OFFICER}
REVIEWERS = {"roles": ADMIN_OFFICER_INSTRUCTOR}
RATERS = {"roles": ALL, "leader_write": True}


async def _own_units(user: Any, scheme: Any) -> list[OrgUnit]:
    scope = await scope_for(user)
    out = []
    for g in scheme.groups:
        out += [u for u in await group_units(g) if scope.allows_unit_path(u.path)]
    return out


@get("/self", opt=OFFICERS, include_in_schema=False)
async def self_page(request: Request, period: FromQuery[str] = "",
                    unit: FromQuery[str] = "") -> Template:
    user = current_user(request)
    try:
        _, scheme, a = await current_annual()
    except KaoheError:  # no definition with a year section yet: the page says so
        return page(request, "ranking/self.html", a=None)
    period = period or (a.windows[0].period if a.windows else "")
    own = await _own_units(user, scheme) if user.role != "admin" else []
    # One unit at a time: a district officer's subtree holds its communities too.
    units = [u for u in own if u.code == unit] or own[:1]
    entries = {(s.unit_code, s.indicator): s for s in await am.SelfAssessment.filter(
        period=period, unit_code__in=[u.code for u in units])}
    values = await selfassess.origins(period, [u.code for u in units])
    status = None
    if user.role == "admin":
        status = [await selfassess.status(period, g.key) for g in scheme.groups]
    return page(request, "ranking/self.html", a=a, scheme=scheme, period=period, units=units,
                own=own,
                entries=entries, values=values, status=status, window=a.window(period),
                provenance=selfassess.provenance, num=num)


@post("/self", opt=OFFICERS, include_in_schema=False)
async def self_submit(request: Request, data: MultipartBody[dict]) -> Redirect:
    files = []
    uploads = data.get("evidence")
    for f in uploads if isinstance(uploads, list) else [uploads]:
        if isinstance(f, UploadFile) and f.filename:
            files.append((f.filename, await f.read()))
    period = str(data.get("period", ""))
    await selfassess.submit(current_user(request), period, str(data.get("unit", "")),
                            str(data.get("indicator", "")), data.get("value"),
                            str(data.get("explanation", "")), files, request.app.state.settings)
    return Redirect(path=f"/ranking/self?period={period}&unit={data.get('unit', '')}")


@get("/review", opt=REVIEWERS, include_in_schema=False)
async def review_page(request: Request, page: PageNo = 1,
                      size: PageSize = DEFAULT_SIZE) -> Template:
    """The reviewer's queue, and what they reviewed (paged: it grows all year)."""
    user = current_user(request)
    try:
        _, scheme, _ = await current_annual()
    except KaoheError:
        return web.page(request, "ranking/review.html", scheme=None)
    queue = await selfassess.queue(user)
    pager = await paginate(am.SelfAssessment.filter(reviewed_by=user.username)
                           .order_by("-reviewed_at", "-id"), page, size, request)
    done = pager.items
    names = {u.code: u.name for u in await OrgUnit.filter(
        code__in=[s.unit_code for s in [*queue, *done]])}
    mine = sorted(await selfassess.reviewer_indicators(user))
    return web.page(request, "ranking/review.html", queue=queue, done=done, pager=pager,
                    names=names, num=num, scheme=scheme,
                    mine=[scheme.by_key[k].name for k in mine if k in scheme.by_key])


@post("/review/{sa_id:int}", opt=REVIEWERS, include_in_schema=False)
async def review_submit(request: Request, sa_id: Id,
                        data: URLEncodedBody[dict[str, str]]) -> Redirect:
    await selfassess.review(current_user(request), sa_id, data.get("decision", ""),
                            data.get("value"), data.get("reason", ""))
    return Redirect(path="/ranking/review")


@get("/evidence/{sa_id:int}/{sha:str}", opt=REVIEWERS, include_in_schema=False)
async def evidence_file(request: Request, sa_id: Id, sha: FromPath[str]) -> Response:
    """An evidence file, for the unit's officers, the indicator's reviewers and admins."""
    user = current_user(request)
    sa = await am.SelfAssessment.get_or_none(id=sa_id)
    item = next((e for e in (sa.evidence if sa else []) if e["sha256"] == sha), None)
    if sa is None or item is None:
        raise NotFound("unknown_evidence", "evidence: no such file", field="evidence")
    unit = await OrgUnit.get(code=sa.unit_code)
    scope = await scope_for(user)
    if user.role != "admin" and not scope.allows_unit_path(unit.path) and \
            sa.indicator not in await selfassess.reviewer_indicators(user):
        raise Forbidden("out_of_scope", "evidence: not yours to read", field="evidence")
    path = selfassess._evidence_folder(request.app.state.settings) / sha
    return download(path.read_bytes(), item["name"], OCTET, cache="private, no-store")


async def _ballot_context(rnd: am.PanelRound) -> dict[str, Any]:
    _, scheme, a = await current_annual()
    panel = a.panel(rnd.panel)
    units = await group_units(get_group(scheme, rnd.group))
    return {"rnd": rnd, "panel": panel, "units": units, "tally": await panel_rating.tally(rnd, panel)}


@get("/panels/{round_id:int}", opt=RATERS, include_in_schema=False)
async def panel_page(request: Request, round_id: Id) -> Template:
    rnd = await panel_rating.get_round(round_id)
    user = current_user(request)
    cast = await am.Ballot.exists(round=rnd, rater=f"user:{user.username}")
    return page(request, "ranking/panel_ballot.html", **await _ballot_context(rnd), cast=cast,
                public=False)


@post("/panels/{round_id:int}", opt=RATERS, include_in_schema=False)
async def panel_cast(request: Request, round_id: Id,
                     data: URLEncodedBody[dict[str, str]]) -> Redirect:
    rnd = await panel_rating.get_round(round_id)
    ctx = await _ballot_context(rnd)
    scores = {k[len("score_"):]: v for k, v in data.items() if k.startswith("score_")}
    await panel_rating.cast(rnd, ctx["panel"], [u.code for u in ctx["units"]], scores,
                            user=current_user(request))
    return Redirect(path=f"/ranking/panels/{round_id}")


@get("/rate/{round_id:int}", opt={"public": True}, include_in_schema=False)
async def code_page(request: Request, round_id: Id) -> Template:
    """Outside raters (deputies, CPPCC members) score with a one-time code, no account."""
    rnd = await panel_rating.get_round(round_id)
    return page(request, "ranking/panel_ballot.html", **await _ballot_context(rnd), cast=False,
                public=True)


@post("/rate/{round_id:int}", opt={"public": True}, include_in_schema=False)
async def code_cast(request: Request, round_id: Id,
                    data: URLEncodedBody[dict[str, str]]) -> Template:
    rnd = await panel_rating.get_round(round_id)
    ctx = await _ballot_context(rnd)
    scores = {k[len("score_"):]: v for k, v in data.items() if k.startswith("score_")}
    await panel_rating.cast(rnd, ctx["panel"], [u.code for u in ctx["units"]], scores,
                            code=data.get("code", ""))
    return page(request, "ranking/panel_ballot.html", **ctx, cast=True, public=True)


PAGES = [self_page, self_submit, review_page, review_submit, evidence_file, panel_page,
         panel_cast, code_page, code_cast]
