"""Core routes: every handler of the host, gathered for the app factory."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromQuery, JSONBody, MultipartBody
from litestar.response import Redirect, Response, Template

from core import assessments, clock, i18n, login, web
from core.api_shapes import ApplyIn, ApplyOut, DefinitionOut, InboxMessageOut, PluginOut
from core.notify_models import InboxMessage
from core.paging import DEFAULT_SIZE, paged, paged_headers, paginate
from core.params import Id, PageNo, PageSize, Slug, choice
from core.plugins import get_host
from core.roles import ADMIN_LEADER, ADMIN_ONLY, ALL
from core.security import current_user

ANY_ROLE = ALL


@get("/api/plugins", opt={"roles": ADMIN_LEADER}, tags=["platform"])
async def api_plugins() -> list[PluginOut]:
    """Every loaded plugin with its version and what it contributes."""
    return [PluginOut.of(p) for p in get_host().describe()]


INBOX_SHOWS = ("unread",)
InboxShow = choice(INBOX_SHOWS, "unread = 只看未读；空 = 全部")


@get("/inbox", opt={"roles": ANY_ROLE}, include_in_schema=False)
async def inbox_page(request: Request, show: InboxShow = None, page: PageNo = 1,
                     size: PageSize = DEFAULT_SIZE) -> Template:
    user = current_user(request)
    qs = InboxMessage.filter(user=user)
    if show == "unread":
        qs = qs.filter(read_at=None)
    pager = await paginate(qs.order_by("-id"), page, size, request)
    unread = await InboxMessage.filter(user=user, read_at=None).count()
    back = urlencode({k: v for k, v in request.query_params.items()
                      if k in ("show", "page", "size") and v})
    return web.page(request, "inbox.html", pager=pager, unread=unread, show=show or "",
                    back=back, tz=clock.tz())


def _inbox_back(form: Any) -> str:
    """/inbox with the filter and page the form was sent from."""
    query = [(k, v) for k, v in parse_qsl(str(form.get("back") or "")[:200])
             if k in ("show", "page", "size") and v]
    return "/inbox" + (f"?{urlencode(query)}" if query else "")


@post("/inbox/{message_id:int}/read", opt={"roles": ANY_ROLE, "leader_write": True},
      include_in_schema=False)
async def inbox_read(request: Request, message_id: Id) -> Redirect:
    await InboxMessage.filter(id=message_id, user=current_user(request)).update(
        read_at=clock.now())
    return Redirect(path=_inbox_back(await request.form()))


@post("/inbox/read-all", opt={"roles": ANY_ROLE, "leader_write": True},
      include_in_schema=False)
async def inbox_read_all(request: Request) -> Redirect:
    """Mark every unread message of the caller read, in one statement."""
    lang = web.language(request)
    n = await InboxMessage.filter(user=current_user(request), read_at=None).update(
        read_at=clock.now())
    target = _inbox_back(await request.form())
    msg = i18n.t("inbox.all_read", lang, n=n)
    return Redirect(path=target + ("&" if "?" in target else "?") + urlencode({"msg": msg}))


@get("/api/inbox", opt={"roles": ANY_ROLE}, tags=["platform"], response_headers=paged_headers())
async def api_inbox(request: Request, unread: FromQuery[bool] = False, page: PageNo = 1,
                    size: PageSize = DEFAULT_SIZE) -> Response[list[InboxMessageOut]]:
    """The caller's inbox, newest first, one page at a time (headers X-Total-Count, X-Page,
    X-Page-Size); `unread=true` for the unread messages only."""
    qs = InboxMessage.filter(user=current_user(request))
    if unread:
        qs = qs.filter(read_at=None)
    pager = await paginate(qs.order_by("-id"), page, size)
    return paged([InboxMessageOut.of(m) for m in pager.items], pager)


@get("/assessments", opt={"roles": ADMIN_ONLY}, include_in_schema=False)
async def assessments_page(request: Request) -> Template:
    rows = await assessments.AssessmentDefinition.all().order_by("slug", "-version")
    return web.page(request, "assessments.html", rows=rows, errors=[], diff="", result="",
                    summary=None)


@post("/assessments", opt={"roles": ADMIN_ONLY}, include_in_schema=False)
async def assessments_upload(
    request: Request,
    data: MultipartBody[dict],
) -> Template:
    """Upload a definition: preview shows errors or the diff; `apply=1` applies it."""
    lang = web.language(request)
    upload: UploadFile | None = data.get("file")
    text = (await upload.read()).decode("utf-8", errors="replace") if upload else data.get("text", "")
    rows = await assessments.AssessmentDefinition.all().order_by("slug", "-version")
    host = get_host()
    try:
        parsed = assessments.parse(text, host)
    except assessments.DefinitionError as exc:
        from core.definition_text import explain

        return web.page(request, "assessments.html", status_code=422, rows=rows,
                        errors=[explain(e, lang) for e in exc.errors],
                        diff="", result="", text=text, summary=None)
    cur = await assessments.current(parsed["assessment"]["slug"])
    diff = assessments.diff(cur.source if cur else "", text)
    summary = assessments.summary(cur.source if cur else "", text)
    result = ""
    if data.get("apply") == "1":
        row, changed = await assessments.apply(text, host, applied_by=current_user(request).username)
        result = (i18n.t("assessments.applied", lang, slug=row.slug, version=row.version)
                  if changed else i18n.t("assessments.unchanged", lang))
        rows = await assessments.AssessmentDefinition.all().order_by("slug", "-version")
        text, diff = "", ""  # applied: the summary says what changed, not the whole file
    return web.page(request, "assessments.html", rows=rows, errors=[], diff=diff, result=result,
                    text=text, summary=summary)


@get("/assessments/{slug:str}/source", opt={"roles": ADMIN_ONLY}, include_in_schema=False)
async def assessment_source(request: Request, slug: Slug, version: FromQuery[int] = 0
                            ) -> Response:
    """The definition file as it was applied (the current version unless `version`), to edit
    and upload again."""
    from core.errors import NotFound

    qs = assessments.AssessmentDefinition.filter(slug=slug)
    row = None
    if not version:
        row = await qs.filter(is_current=True).first()
    elif 0 < version < 2**31:  # a number the column cannot hold is no version
        row = await qs.filter(version=version).first()
    if row is None:
        raise NotFound("unknown_definition", i18n.t("assessments.no_source",
                                                    web.language(request), slug=slug))
    return web.download(row.source.encode("utf-8"), f"{row.slug}-v{row.version}.toml",
                        "application/toml; charset=utf-8")


@get("/api/assessments", opt={"roles": ADMIN_LEADER}, tags=["platform"])
async def api_assessments() -> list[DefinitionOut]:
    """Every applied definition version (a handful per assessment, so one list)."""
    rows = await assessments.AssessmentDefinition.all().order_by("slug", "-version")
    return [DefinitionOut.of(r) for r in rows]


@post("/api/assessments/apply", opt={"roles": ADMIN_ONLY}, tags=["platform"])
async def api_assessments_apply(request: Request, data: JSONBody[ApplyIn]) -> ApplyOut:
    """Validate and apply a definition given as TOML text in `text`; a definition with errors
    answers 422 with each problem in `error.details`."""
    from core.errors import Invalid

    try:
        row, changed = await assessments.apply(data.text, get_host(),
                                               applied_by=current_user(request).username)
    except assessments.DefinitionError as exc:
        raise Invalid("definition_invalid", "the definition has errors", details=exc.errors) from None
    return ApplyOut(slug=row.slug, version=row.version, changed=changed)


HANDLERS = [
    web.dashboard, web.switch_language,
    login.login_page, login.login_submit, login.logout, login.api_login, login.api_me,
    api_plugins, inbox_page, inbox_read, inbox_read_all, api_inbox,
    assessments_page, assessments_upload, api_assessments, api_assessments_apply,
    assessment_source,
]

# Admin pages of the platform services, each in its own module.
from core import audit_routes, calendar_routes, tokens_routes, users_routes  # noqa: E402

HANDLERS += audit_routes.HANDLERS + users_routes.HANDLERS + calendar_routes.HANDLERS
HANDLERS += tokens_routes.HANDLERS

from core import export_routes  # noqa: E402

HANDLERS += export_routes.HANDLERS

from core import jobs_routes, notify_routes  # noqa: E402

HANDLERS += jobs_routes.HANDLERS + notify_routes.HANDLERS

from core import periods_routes, unit_picker_routes, units_routes  # noqa: E402

HANDLERS += periods_routes.HANDLERS + units_routes.HANDLERS + unit_picker_routes.HANDLERS

from core import user_edit_routes  # noqa: E402

HANDLERS += user_edit_routes.HANDLERS

from core import events_routes  # noqa: E402

HANDLERS += events_routes.HANDLERS

from core import import_routes  # noqa: E402

HANDLERS += import_routes.HANDLERS
