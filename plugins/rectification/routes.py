"""Pages (admin queue, my tasks, task page, reports, bulk registration) and the JSON API."""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import quote, urlencode

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Redirect, Template
from tortoise.expressions import Q

from core import i18n, unit_picker, web
from core.contrib import ExportRequest
from core.errors import KaoheError, NotFound, field_errors
from core.orgs import OrgUnit, Period, PeriodClosedError
from core.paging import DEFAULT_SIZE, paged_headers, paginate
from core.params import Id, PageNo, PageSize, PeriodCode, Search, Slug, UnitCode, choice
from core.roles import ADMIN_LEADER, ADMIN_LEADER_OFFICER, ADMIN_OFFICER, ADMIN_ONLY, OFFICER_ONLY
from core.security import current_user
from core.web import download, language, page
from plugins.rectification import evidence as ev
from plugins.rectification import exporters, queries, shapes, workflow
from plugins.rectification.common import (
    actor_for,
    get_task,
    local_date,
    now_utc,
    reason_text,
    scoped,
)
from plugins.rectification.config import current_definition
from plugins.rectification.models import (
    SEVERITIES,
    STATUSES,
    Evidence,
    ExtensionRequest,
    Task,
    TaskEvent,
)

READ = ADMIN_LEADER_OFFICER
WRITE = ADMIN_OFFICER
ADMIN = ADMIN_ONLY
TaskStatus = choice(STATUSES)
API_SIZE = 200  # a JSON client gets the largest page unless it asks for less
STEPS = ("registered", "assessed", "dispatched", "responded", "closed", "evaluated", "rejected")


def _settings(request: Request) -> Any:
    return request.app.state.settings


async def _actor(request: Request):
    return await actor_for(current_user(request))


async def _detail(task: Task, role: str) -> shapes.TaskDetailOut:
    events = await TaskEvent.filter(task_id=task.id).order_by("id")
    files = await Evidence.filter(task_id=task.id).order_by("id")
    exts = await ExtensionRequest.filter(task_id=task.id).order_by("id")
    pending = any(e.status == "pending" for e in exts)
    return shapes.TaskDetailOut.build(task, workflow.allowed_actions(task, role, pending),
                                      events, files, exts)


async def _files(form: Any) -> list[tuple[str, bytes]]:
    out = []
    try:
        items = form.getall("files")
    except KeyError:
        items = []
    for item in items:
        if isinstance(item, UploadFile) and item.filename:
            out.append((item.filename, await item.read()))
    return out


# -- JSON API ----------------------------------------------------------------------------------

def _paged(items: list[Any], pager: Any) -> Response:
    """One page of a JSON list; the whole count and the page in headers (the body stays the
    list it always was)."""
    return Response(items, headers={"X-Total-Count": str(pager.total), "X-Page": str(pager.page),
                                    "X-Page-Size": str(pager.size)})


@get("/tasks", opt={"roles": READ}, response_headers=paged_headers())
async def api_list(request: Request, period: PeriodCode = None,
                   status: TaskStatus = None, unit: UnitCode = None,
                   overdue: FromQuery[bool | None] = None, page: PageNo = 1,
                   size: PageSize = API_SIZE) -> Response[list[shapes.TaskRowOut]]:
    """Tasks the caller may see, filtered by period, status, unit subtree and overdue flag,
    oldest first, one page at a time (headers X-Total-Count, X-Page, X-Page-Size)."""
    actor = await _actor(request)
    filters: dict[str, Any] = {}
    if status:
        filters["status"] = status
    if overdue is not None:
        filters["overdue"] = overdue
    qs = await queries.tasks_query(period, unit, actor, **filters)
    pager = await paginate(qs.select_related("unit", "period").order_by("id"), page, size)
    days = await queries.days_overdue_of(pager.items)
    return _paged([shapes.TaskRowOut.of(t, days[t.id]) for t in pager.items], pager)


@post("/tasks", opt={"roles": ADMIN}, status_code=201)
async def api_register(request: Request, data: JSONBody[shapes.TaskIn]) -> shapes.TaskOut:
    """Step 1 信息收集: register a problem."""
    task = await workflow.register(await _actor(request), data.as_data())
    return shapes.TaskOut.of(task)


@get("/tasks/{task_id:int}", opt={"roles": READ})
async def api_task(request: Request, task_id: Id) -> shapes.TaskDetailOut:
    """A task with its timeline, evidence, extension requests and the caller's next steps."""
    actor = await _actor(request)
    return await _detail(await get_task(task_id, actor), actor.role)


def _transition(action: str, path: str):
    rule = workflow.RULES[action]
    body = shapes.STEP_BODIES[action]

    async def handler(request: Request, task_id: Id, data: Any) -> shapes.TaskDetailOut:
        actor = await _actor(request)
        task = await workflow.act(task_id, action, actor, data.as_data(),
                                  settings=_settings(request))
        return await _detail(task, actor.role)

    handler.__name__ = f"api_{action}"
    handler.__annotations__["data"] = JSONBody[body]  # each step's own body, in /schema too
    handler.__doc__ = f"{rule.step}: '{action}' from {', '.join(rule.from_states)} " \
                      f"(role {rule.role}). Send the task `version` you saw."
    return post(f"/tasks/{{task_id:int}}/{path}", opt={"roles": (rule.role,)},
                operation_id=f"rectification_{action}", status_code=200)(handler)


TRANSITIONS = [_transition(a, p) for a, p in (
    ("assess", "assess"), ("reject", "reject"), ("dispatch", "dispatch"),
    ("set_deadline", "deadline"), ("respond", "respond"),
    ("request_extension", "extensions"), ("decide_extension", "extensions/decide"),
    ("verify", "verify"), ("evaluate", "evaluate"))]


@post("/tasks/{task_id:int}/evidence", opt={"roles": OFFICER_ONLY}, status_code=201)
async def api_upload(request: Request, task_id: Id) -> list[shapes.EvidenceOut]:
    """Upload evidence files (multipart field `files`) to name later in respond/extensions."""
    form = await request.form()
    rows = await ev.upload_drafts(task_id, await _actor(request), await _files(form),
                                  settings=_settings(request))
    return [shapes.EvidenceOut(id=r.id, name=r.original_name, size=r.size, sha256=r.sha256)
            for r in rows]


@get("/summary", opt={"roles": ADMIN_LEADER})
async def api_summary(period: PeriodCode, unit: UnitCode = None) -> shapes.SummaryOut:
    """Per unit: received, closed on time, closed late, open, overdue."""
    rows, total = await queries.summary_by_unit(period, unit)

    def fix(r: dict[str, Any]) -> shapes.UnitSummaryOut:
        rate = r["on_time_rate"]
        return shapes.UnitSummaryOut(**{**r, "on_time_rate": queries.q2(rate * 100)
                                        if rate is not None else None})

    return shapes.SummaryOut(units=[fix(r) for r in rows], total=fix(total))


API = [api_list, api_register, api_task, *TRANSITIONS, api_upload, api_summary]


# -- pages ---------------------------------------------------------------------------------------

@get("/", opt={"roles": READ}, include_in_schema=False)
async def home(request: Request) -> Redirect:
    role = current_user(request).role
    return Redirect(path="/rectification/mine" if role == "unit_officer" else
                    "/rectification/queue")


YES_NO = choice(("yes", "no"))
MINE_GROUPS = ("overdue", "due_soon", "to_respond", "waiting", "closed")
MineGroup = choice(MINE_GROUPS)


def _open_overdue() -> Q:
    """Open and past its deadline: what the pages call 已超期."""
    return Q(status="dispatched", overdue=True)


async def _unit_text(qs, text: str | None):
    """A unit filter typed as text: an exact code takes its whole subtree, anything else
    matches the start of a code or part of a name."""
    text = (text or "").strip()
    if not text:
        return qs
    exact = await OrgUnit.get_or_none(code=text)
    if exact is not None:
        return qs.filter(unit__path__startswith=exact.path)
    return qs.filter(Q(unit__code__startswith=text) | Q(unit__name__icontains=text))


@get("/queue", opt={"roles": ADMIN_LEADER}, include_in_schema=False)
async def queue(request: Request, step: Slug = "registered", period: PeriodCode = "",
                unit: Search = "", overdue: YES_NO = "", page: PageNo = 1, size: PageSize = DEFAULT_SIZE) -> Template:
    actor = await _actor(request)
    counts = await queries.status_counts(actor)
    qs = scoped(Task.all(), actor)
    if step in STEPS:
        qs = qs.filter(status=step)
    if period:
        qs = qs.filter(period__code=period)
    qs = await _unit_text(qs, unit)
    if overdue == "yes":
        qs = qs.filter(_open_overdue())
    elif overdue == "no":
        qs = qs.filter(~_open_overdue())
    pager = await paginate(qs.select_related("unit", "period").order_by("deadline", "id"),
                           page, size, request)
    # The step links keep the other filters and start again on page 1.
    kept = {k: v for k, v in (("period", period), ("unit", unit or ""), ("overdue", overdue))
            if v}
    return web.page(request, "rectification/queue.html", tasks=pager.items, pager=pager,
                counts=counts, step=step, steps=STEPS, today=local_date(now_utc()),
                q={"unit": unit or "", "overdue": overdue or "", "period": period or ""},
                kept=urlencode(kept), periods=await Period.all().order_by("-start"))


@get("/mine", opt={"roles": OFFICER_ONLY}, include_in_schema=False)
async def mine(request: Request, group: MineGroup = "", page: PageNo = 1,
               size: PageSize = DEFAULT_SIZE) -> Template:
    from core.calendar import WorkCalendar

    actor = await _actor(request)
    today = local_date(now_utc())
    cal = await WorkCalendar.load()
    soon = cal.add_working_days(today, _settings(request).plugin("rectification").reminder_days)
    base = scoped(Task.filter(status__in=("dispatched", "responded", "closed")), actor)
    open_ = Q(status="dispatched")
    conditions = {
        "overdue": open_ & Q(deadline__lt=today),
        "due_soon": open_ & Q(deadline__gte=today, deadline__lte=soon),
        "to_respond": open_ & (Q(deadline__gt=soon) | Q(deadline__isnull=True)),
        # each group holds only its own status: a closed task waits for the evaluation, not
        # for the verification that "已反馈待核查" promises
        "waiting": Q(status="responded"),
        "closed": Q(status="closed"),
    }
    counts = {k: await base.filter(c).count() for k, c in conditions.items()}
    qs = base.filter(conditions[group]) if group else base
    pager = await paginate(qs.select_related("unit", "period").order_by("deadline", "id"),
                           page, size, request)
    tasks = pager.items
    pending = set(await ExtensionRequest.filter(status="pending", task_id__in=[
        t.id for t in tasks]).values_list("task_id", flat=True))
    left = {t.id: cal.working_days_between(today, t.deadline) for t in tasks if t.deadline}
    return web.page(request, "rectification/mine.html", tasks=tasks, pager=pager, counts=counts,
                groups=MINE_GROUPS, group=group, left=left, pending=pending, today=today)


async def _form_choices() -> dict[str, Any]:
    defn = await current_definition()
    return {"sources": defn.sources, "categories": defn.categories, "severities": SEVERITIES,
            "periods": await Period.filter(status="open").order_by("-start")}


async def _unit_code(request: Request, text: str | None, label_key: str,
                     required: bool) -> str:
    """The code of the unit a form names (code or name), refused with the field named."""
    lang = language(request)
    unit = await unit_picker.resolve(text, field="unit", label=i18n.t(label_key, lang),
                                     reach=await unit_picker.reach_for(current_user(request)),
                                     required=required, lang=lang)
    return unit.code if unit else ""


@get("/new", opt={"roles": ADMIN}, include_in_schema=False)
async def new_form(request: Request) -> Template:
    return page(request, "rectification/new.html", error="", errors={}, values={},
                **await _form_choices())


@post("/new", opt={"roles": ADMIN}, include_in_schema=False)
async def new_submit(request: Request) -> Template | Redirect:
    form = dict(await request.form())
    form.pop("_csrf", None)
    try:
        form["unit"] = await _unit_code(request, form.get("unit"), "rectification.unit", True)
        task = await workflow.register(await _actor(request), form)
    except (KaoheError, PeriodClosedError) as exc:
        msg = (exc.text(language(request)) if isinstance(exc, KaoheError) else
               i18n.t("error.period_closed", language(request), code=exc.code))
        errors = {exc.field: msg} if getattr(exc, "field", None) else {}
        return page(request, "rectification/new.html", status_code=getattr(exc, "status", 409),
                    error=msg, errors=errors, values=form, **await _form_choices())
    return Redirect(path=f"/rectification/tasks/{task.id}")


@get("/tasks/{task_id:int}", opt={"roles": READ}, include_in_schema=False)
async def task_page(request: Request, task_id: Id) -> Template:
    return await _task_page(request, task_id)


# The fields each form of the task page shows, so a refusal of one of them is written beside it.
FORM_FIELDS = {"note", "evidence", "requested_deadline", "reason", "responsible_person",
               "deadline", "granted_deadline", "satisfaction", "comment", "severity"}


async def _task_page(request: Request, task_id: Id, error: str = "", status_code: int = 200,
                     failed: str = "", errors: dict[str, str] | None = None,
                     values: dict[str, Any] | None = None) -> Template:
    actor = await _actor(request)
    task = await get_task(task_id, actor)
    detail = await _detail(task, actor.role)
    notices = await task.overdue_notices.all().order_by("id")
    errors = errors or {}
    if errors and set(errors) <= FORM_FIELDS and failed in detail.allowed:
        error = ""  # each message stands beside its field
    return page(request, "rectification/task.html", status_code=status_code, task=task,
                d=detail, notices=notices, error=error, defn=await current_definition(),
                failed=failed, errors=errors, values=values or {},
                reason_text=partial(reason_text, lang=language(request)))


@post("/tasks/{task_id:int}/act/{action:str}", opt={"roles": WRITE}, include_in_schema=False)
async def task_act(request: Request, task_id: Id, action: FromPath[str]) -> Any:
    """Form posts from the task page; errors come back on the page with the right status."""
    form = await request.form()
    data = {k: v for k, v in form.items() if not isinstance(v, UploadFile) and k != "_csrf"}
    try:
        await workflow.act(task_id, action, await _actor(request), data,
                           files=await _files(form), settings=_settings(request))
    except NotFound:
        raise
    except (KaoheError, PeriodClosedError) as exc:
        lang = language(request)
        if isinstance(exc, KaoheError):
            msg, status, errors = exc.text(lang), exc.status, field_errors(exc, lang)
        else:
            msg, status, errors = i18n.t("error.period_closed", lang, code=exc.code), 409, {}
        return await _task_page(request, task_id, error=msg, status_code=status,
                                failed=action, errors=errors, values=data)
    done = i18n.t("rectification.done", language(request))
    return Redirect(path=f"/rectification/tasks/{task_id}?msg={quote(done)}")


@get("/evidence/{evidence_id:int}", opt={"roles": READ}, include_in_schema=False)
async def evidence_file(request: Request, evidence_id: Id) -> Response:
    row, path = await ev.open_evidence(evidence_id, await _actor(request), _settings(request))
    return download(path.read_bytes(), row.original_name, row.content_type,
                    cache="private, no-store")


# -- reports and bulk registration ---------------------------------------------------------------

@get("/reports", opt={"roles": READ}, include_in_schema=False)
async def reports(request: Request) -> Template:
    return page(request, "rectification/reports.html", exporters=exporters.exporters(),
                periods=await Period.all().order_by("-start"))


@get("/reports/{name:str}", opt={"roles": READ}, include_in_schema=False)
async def report_download(request: Request, name: FromPath[str], period: PeriodCode,
                          unit: UnitCode = "") -> Response:
    """The same workbooks as `kaohe export`: core applies roles and the unit officer's scope."""
    from core.exports import build_export

    if name not in exporters.BUILDERS:
        raise NotFound("unknown_export", f"no export named '{name}'")
    unit = await _unit_code(request, unit, "common.unit", False)
    data = await build_export(name, ExportRequest(period=period, unit=unit or None,
                                                  lang=language(request)),
                              user=current_user(request))
    filename = f"{name}-{period}{'-' + unit if unit else ''}.xlsx"
    return download(data, filename)


PAGES = [home, queue, mine, new_form, new_submit, task_page, task_act, evidence_file, reports,
         report_download]


# -- dashboard ------------------------------------------------------------------------------------

