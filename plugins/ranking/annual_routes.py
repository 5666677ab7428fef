"""Pages of the assessment year: year results (/ranking/annual), publishing, verifying and
the 公示 notice, public when the instance allows it ([ranking] public_notice)."""

from __future__ import annotations

from pathlib import Path

from litestar import Request, Response, get, post
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template

from core import web
from core.contrib import ExportRequest
from core.errors import NotFound
from core.paging import DEFAULT_SIZE, paginate
from core.params import Id, PageNo, PageSize
from core.roles import ADMIN_LEADER, ADMIN_LEADER_OFFICER, ADMIN_OFFICER, ADMIN_ONLY
from core.security import current_user
from core.web import download, language, page
from plugins.ranking import annual, annual_workbook, config
from plugins.ranking import annual_models as am
from plugins.ranking.annual_text import grade_name, notes_text, rule_text
from plugins.ranking.services import current_scheme, get_group, today

CSS = Path(__file__).parent / "static" / "annual.css"
ADMIN = {"roles": ADMIN_ONLY}
READERS = {"roles": ADMIN_LEADER_OFFICER}
EXPORTERS = {"roles": ADMIN_LEADER}
OFFICERS = {"roles": ADMIN_OFFICER}


async def _view(result: am.AnnualResult, lang: str) -> dict:
    _, scheme, a = await annual.current_annual()
    rows = await am.AnnualRow.filter(result=result).order_by("position")
    shown = []
    for r in rows:
        quota = next((n for n in r.notes if n["code"] == "quota"), None)
        shown.append({"r": r, "grade": grade_name(a, r.grade) if r.grade else "—",
                      "band": grade_name(a, r.band) if r.band else "—",
                      "rule": rule_text(a, r.rule, lang, quota) if r.rule else "",
                      "notes": notes_text(a, r.notes, lang, r.rule)})
    from plugins.ranking.shapes import f2

    return {"result": result, "a": a, "rows": shown, "f2": f2,
            "group_name": get_group(scheme, result.group).name}


async def _visible(result_id: int, request: Request) -> am.AnnualResult:
    result = await annual.get_result(result_id)
    user = current_user(request)
    if result.status == "draft" and (user is None or user.role != "admin"):
        raise NotFound("unknown_annual", f"annual result: no result #{result_id}",
                       field="result")
    return result


@get("/annual", opt=READERS, include_in_schema=False)
async def annual_index(request: Request, page: PageNo = 1,
                       size: PageSize = DEFAULT_SIZE) -> Template:
    _, scheme = await current_scheme(required=False)
    qs = am.AnnualResult.all()
    if current_user(request).role != "admin":
        qs = qs.exclude(status="draft")
    pager = await paginate(qs.order_by("-id"), page, size, request)
    results = pager.items
    try:
        _, _, a = await annual.current_annual()
    except Exception:  # no year section: the page says so
        a = None
    return web.page(request, "ranking/annual_index.html", results=results, pager=pager,
                    scheme=scheme, a=a)


@post("/annual/compute", opt=ADMIN, include_in_schema=False)
async def annual_compute(request: Request, data: URLEncodedBody[dict[str, str]]) -> Redirect:
    result = await annual.compute(data.get("year", ""), data.get("group", ""),
                                  current_user(request).username)
    return Redirect(path=annual.link(result.id))


@get("/annual/{result_id:int}", opt=READERS, include_in_schema=False)
async def annual_page(request: Request, result_id: Id) -> Template:
    from core.orgs import OrgUnit
    from core.scope import scope_for

    user = current_user(request)
    result = await _visible(result_id, request)
    view = await _view(result, language(request))
    objections = await am.AnnualObjection.filter(result=result).order_by("id")
    own: list[tuple[str, str]] = []
    if user.role == "unit_officer":
        scope = await scope_for(user)
        codes = [x["r"].unit_code for x in view["rows"]]
        paths = {u.code: u.path for u in await OrgUnit.filter(code__in=codes)}
        own = [(x["r"].unit_code, x["r"].unit_name) for x in view["rows"]
               if scope.allows_unit_path(paths.get(x["r"].unit_code, "\0"))]
        objections = [o for o in objections if o.unit_code in {c for c, _ in own}]
    names = {x["r"].unit_code: x["r"].unit_name for x in view["rows"]}
    return page(request, "ranking/annual.html", **view, objections=objections, own=own,
                names=names, window_open=result.status == "objection" and (
                    result.objection_until is None or today() <= result.objection_until))


@post("/annual/{result_id:int}/objections", opt=OFFICERS, include_in_schema=False)
async def annual_object(request: Request, result_id: Id,
                        data: URLEncodedBody[dict[str, str]]) -> Redirect:
    await annual.file_objection(result_id, current_user(request), data.get("unit", ""),
                                data.get("reason", ""))
    return Redirect(path=annual.link(result_id))


@post("/annual/objections/{objection_id:int}/resolve", opt=ADMIN, include_in_schema=False)
async def annual_resolve(request: Request, objection_id: Id,
                         data: URLEncodedBody[dict[str, str]]) -> Redirect:
    obj = await annual.resolve_objection(objection_id, data.get("decision", ""),
                                         data.get("response", ""), current_user(request).username)
    return Redirect(path=annual.link(obj.result_id))


@post("/annual/{result_id:int}/publish", opt=ADMIN, include_in_schema=False)
async def annual_publish(request: Request, result_id: Id) -> Redirect:
    await annual.publish(result_id, current_user(request).username)
    return Redirect(path=annual.link(result_id))


@get("/annual/{result_id:int}/verify", opt=EXPORTERS, include_in_schema=False)
async def annual_verify(request: Request, result_id: Id) -> Template:
    result = await annual.get_result(result_id)
    return page(request, "ranking/annual_verify.html", result=result,
                v=await annual.verify(result_id))


@get("/annual/{result_id:int}/export/{kind:str}", opt=EXPORTERS, include_in_schema=False)
async def annual_export(result_id: Id, kind: FromPath[str]) -> Response:

    result = await annual.get_result(result_id)
    req = ExportRequest(period=result.year, group=result.group,
                        options={"draft": result.status == "draft"})
    if kind == "grades":
        return download(await annual_workbook.build_grades(req), f"annual-grades-{result.year}-{result.group}.xlsx")
    return download(await annual_workbook.build_summary(req), f"annual-{result.year}-{result.group}.xlsx")


@get("/annual/{result_id:int}/notice", opt={"public": True}, include_in_schema=False)
async def annual_notice(request: Request, result_id: Id) -> Template:
    """The 公示: without an account only when the instance allows it."""
    user = current_user(request)
    allowed = config.of(request.app.state.settings).public_notice
    result = await annual.get_result(result_id)
    if result.status not in ("objection", "final") or (user is None and not allowed):
        raise NotFound("unknown_annual", f"annual result: no public notice #{result_id}",
                       field="result")
    return page(request, "ranking/annual_notice.html", **await _view(result, language(request)))


@get("/static/annual.css", opt={"public": True}, include_in_schema=False)
async def annual_css() -> Response:
    """The year pages' stylesheet (a file, so that no inline style is needed)."""
    return Response(content=CSS.read_bytes(), media_type="text/css",
                    headers={"Cache-Control": "public, max-age=3600"})


PAGES = [annual_css, annual_index, annual_compute, annual_page, annual_object, annual_resolve, annual_publish, annual_verify,
         annual_export, annual_notice]
