"""Pages (/accountability) and JSON API (/api/accountability) of the accountability plugin."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import JSONBody, MultipartBody, URLEncodedBody
from litestar.response import Redirect, Template

from core import i18n, unit_picker, web
from core.downloads import OCTET
from core.errors import Conflict, Forbidden, Invalid, KaoheError, NotFound, field_errors
from core.paging import DEFAULT_SIZE, paged_headers, paginate
from core.params import Code12, Id, PageNo, PageSize, PeriodCode, Search, UnitCode, choice
from core.roles import ADMIN_LEADER, ADMIN_LEADER_OFFICER, ADMIN_ONLY, OFFICER_ONLY
from core.scope import scope_for
from core.security import current_user
from core.web import download, language, page
from plugins.accountability import appeals, notes, services, shapes
from plugins.accountability.ladder import MEASURES, TARGETS
from plugins.accountability.models import STATUSES, Appeal, Record, RecordHistory

ADMIN = {"roles": ADMIN_ONLY}
READERS = {"roles": ADMIN_LEADER_OFFICER}
RecordStatus = choice(STATUSES)
APPEAL_STATUSES = ("pending", "upheld", "reduced", "withdrawn", "superseded")
AppealStatus = choice(APPEAL_STATUSES)
MeasureCode = choice(MEASURES)
QUEUE = "/accountability/queue"
API_SIZE = 200  # a JSON client gets the largest page unless it asks for less


def _back(record_id: Id, request: Request, key: str, **params: Any) -> Redirect:
    msg = i18n.t(f"accountability.{key}", language(request), **params)
    return Redirect(path=f"/accountability/records/{record_id}?msg={quote(msg)}")


async def _upload(data: dict[str, Any]) -> tuple[str, bytes | None]:
    upload = data.get("evidence")
    if isinstance(upload, UploadFile) and upload.filename:
        return upload.filename, await upload.read()
    return "", None


def _evidence_dir(request: Request) -> Path:
    settings = request.app.state.settings
    return settings.path(settings.storage.evidence_dir)


def _max_bytes(request: Request) -> int:
    return request.app.state.settings.storage.max_upload_mb * 1024 * 1024


# -- pages -------------------------------------------------------------------------------

@get("/", opt=READERS, include_in_schema=False)
async def index() -> Redirect:
    return Redirect(path="/accountability/records")


@get("/records", opt=READERS, include_in_schema=False)
async def records_page(request: Request, status: RecordStatus = "", period: PeriodCode = "",
                       unit: Search = "", measure: MeasureCode = "", page: PageNo = 1,
                       size: PageSize = DEFAULT_SIZE) -> Template:
    user = current_user(request)
    qs = await services.records_query(user, status=status, period=period, measure=measure,
                                      unit_text_filter=unit or "")
    pager = await paginate(qs, page, size, request)
    views = [(r, services.record_out(r, user)) for r in pager.items]
    return web.page(request, "accountability/records.html", rows=views, pager=pager,
                    statuses=STATUSES, measures=MEASURES,
                    q={"status": status or "", "period": period or "", "unit": unit or "",
                       "measure": measure or ""})


@get("/appeals", opt=ADMIN, include_in_schema=False)
async def appeals_page(request: Request, status: AppealStatus = "", unit: Search = "",
                       page: PageNo = 1, size: PageSize = DEFAULT_SIZE) -> Template:
    """Every appeal, newest first, by status and unit."""
    qs = Appeal.all() if not status else Appeal.filter(status=status)
    qs = await services.unit_text(qs, unit or "", field="record__unit")
    pager = await paginate(qs.select_related("record", "record__unit", "submitted_by")
                           .order_by("-id"), page, size, request)
    from core import clock

    return web.page(request, "accountability/appeals.html", pager=pager, appeals=pager.items,
                    statuses=APPEAL_STATUSES, tz=clock.tz(), q={"status": status or "", "unit": unit or ""})


@get("/ladder", opt={"roles": ADMIN_LEADER}, include_in_schema=False)
async def ladder_page(request: Request) -> Template:
    """The escalation ladder of the current definition, and how it is changed."""
    from core import clock
    from plugins.accountability import ladder_view

    return page(request, "accountability/ladder.html", view=await ladder_view.current(),
                tz=clock.tz())


QUEUE_APPEALS = 20  # the oldest pending appeals on the queue; all of them on /appeals


@get("/queue", opt=ADMIN, include_in_schema=False)
async def queue_page(request: Request, unit: Search = "", measure: MeasureCode = "",
                     page: PageNo = 1, size: PageSize = DEFAULT_SIZE) -> Template:
    """Proposals to approve or dismiss, oldest first, by unit and measure, a page at a time;
    the oldest pending appeals below."""
    qs = Record.filter(status="proposed")
    if measure:
        qs = qs.filter(measure=measure)
    qs = await services.unit_text(qs, unit or "")
    pager = await paginate(qs.select_related("unit").order_by("id"), page, size, request)
    appeals_qs = Appeal.filter(status="pending")
    pending = await appeals_qs.select_related("record", "record__unit", "submitted_by") \
        .order_by("id").limit(QUEUE_APPEALS)
    return web.page(request, "accountability/queue.html", pager=pager, proposed=pager.items,
                    pending=pending, pending_total=await appeals_qs.count(),
                    measures=MEASURES, q={"unit": unit or "", "measure": measure or ""},
                    note_text=partial(notes.note_text, lang=web.language(request)))


def _queue_back(data: dict[str, Any], key: str, request: Request, record_id: int) -> Redirect:
    """Back to the queue page the admin acted from, its filters and page kept (only the
    queue's own parameters: never another address)."""
    back = str(data.get("back") or "")
    kept = [(k, v) for k, v in parse_qsl(back.partition("?")[2])
            if k in ("unit", "measure", "page", "size")] if back.startswith(QUEUE) else []
    msg = i18n.t(f"accountability.{key}", language(request), id=record_id)
    return Redirect(path=f"{QUEUE}?{urlencode([*kept, ('msg', msg)])}")


@get("/records/{record_id:int}", opt=READERS, include_in_schema=False)
async def record_page(request: Request, record_id: Id) -> Template:
    return await _record_page(request, record_id)


async def _record_page(request: Request, record_id: int, *, status_code: int = 200,
                       exc: KaoheError | None = None, failed: str = "",
                       values: dict[str, Any] | None = None) -> Template:
    """The record with what its viewer may do now; a refused form comes back with the
    input kept and the message beside its field."""
    user, lang = current_user(request), language(request)
    record = await services.get_record(record_id, user)
    view = services.record_out(record, user)
    history = await services.history_for(record, user)
    appeal_rows = await Appeal.filter(record=record).order_by("id")
    deadline = await appeals.deadline(record) if record.approved_at else None
    can, why = (await appeals.can_appeal(record, user, lang=lang)
                ) if user.role == "unit_officer" else (False, "")
    # The appeal of the record as it stands: its state is what the unit needs to see, not
    # the refusal a second appeal would get.
    current_appeal = next((a for a in reversed(appeal_rows)
                           if a.record_revision == record.revision), None)
    errors = field_errors(exc, lang) if exc else {}
    # The steps an event caused (the core event store keeps the deliveries themselves).
    events = (await RecordHistory.filter(record=record).exclude(event_key="").order_by("id")
              if user.role in ADMIN_LEADER else [])
    pending_appeal = any(a.status == "pending" for a in appeal_rows)
    return page(request, "accountability/record.html", status_code=status_code, record=record,
                view=view, history=history, appeals=appeal_rows, deadline=deadline,
                can_appeal=can, why_not=why, events=events, today=services.today().isoformat(),
                current_appeal=current_appeal, pending_appeal=pending_appeal,
                note_text=partial(notes.note_text, lang=lang),
                event_text=partial(notes.event_text, lang=lang),
                error=exc.text(lang) if exc and not failed else "", failed=failed,
                errors=errors if failed else {}, values=values or {})


async def _refused(request: Request, record_id: int, exc: KaoheError, failed: str,
                   values: dict[str, Any]) -> Template:
    """A refused record form: the record page again, the message beside the field when the
    form shows it, else at the top."""
    shown = {"approve": {"responsible_person", "points"}, "dismiss": {"reason"},
             "carry_out": {"date", "notes"}, "appeal": {"reasons", "evidence"},
             "decide": {"decision", "new_points", "reason"}}.get(failed, set())
    fields = set(field_errors(exc))
    return await _record_page(request, record_id, status_code=exc.status, exc=exc,
                              failed=failed if fields <= shown else "",
                              values={k: v for k, v in values.items() if isinstance(v, str)})


@post("/records/{record_id:int}/approve", opt=ADMIN, include_in_schema=False)
async def approve_form(request: Request, record_id: Id,
                       data: URLEncodedBody[dict[str, str]]) -> Redirect | Template:
    try:
        await services.approve(record_id, responsible_person=data.get("responsible_person"),
                               points=data.get("points") or None, note=data.get("note", ""))
    except (Invalid, Conflict) as exc:
        return await _refused(request, record_id, exc, "approve", data)
    if data.get("next") == "queue":
        return _queue_back(data, "approved_msg", request, record_id)
    return _back(record_id, request, "approved_msg", id=record_id)


@post("/records/{record_id:int}/dismiss", opt=ADMIN, include_in_schema=False)
async def dismiss_form(request: Request, record_id: Id,
                       data: URLEncodedBody[dict[str, str]]) -> Redirect | Template:
    try:
        await services.dismiss(record_id, data.get("reason", ""))
    except (Invalid, Conflict) as exc:
        return await _refused(request, record_id, exc, "dismiss", data)
    if data.get("next") == "queue":
        return _queue_back(data, "dismissed_msg", request, record_id)
    return _back(record_id, request, "dismissed_msg", id=record_id)


@post("/records/{record_id:int}/carry-out", opt=ADMIN, include_in_schema=False)
async def carry_out_form(request: Request, record_id: Id,
                         data: URLEncodedBody[dict[str, str]]) -> Redirect | Template:
    try:
        await services.carry_out(record_id, on=data.get("date") or None,
                                 notes=data.get("notes", ""))
    except (Invalid, Conflict) as exc:
        return await _refused(request, record_id, exc, "carry_out", data)
    return _back(record_id, request, "carried_out_msg", id=record_id)


@post("/records/{record_id:int}/close", opt=ADMIN, include_in_schema=False)
async def close_form(request: Request, record_id: Id,
                     data: URLEncodedBody[dict[str, str]]) -> Redirect | Template:
    try:
        await services.close(record_id, data.get("note", ""))
    except (Invalid, Conflict) as exc:
        return await _refused(request, record_id, exc, "close", data)
    return _back(record_id, request, "closed_msg", id=record_id)


@post("/records/{record_id:int}/appeal", opt={"roles": OFFICER_ONLY}, include_in_schema=False)
async def appeal_form(request: Request, record_id: Id,
                      data: MultipartBody[dict]) -> Redirect | Template:
    name, content = await _upload(data)
    try:
        await appeals.submit(current_user(request), record_id,
                             reasons=str(data.get("reasons", "")), evidence_name=name,
                             evidence=content, evidence_dir=_evidence_dir(request),
                             max_bytes=_max_bytes(request))
    except (Invalid, Conflict, Forbidden) as exc:
        return await _refused(request, record_id, exc, "appeal", data)
    return _back(record_id, request, "appealed_msg")


@post("/appeals/{appeal_id:int}/decide", opt=ADMIN, include_in_schema=False)
async def decide_form(request: Request, appeal_id: Id,
                      data: URLEncodedBody[dict[str, str]]) -> Redirect | Template:
    try:
        appeal = await appeals.decide(appeal_id, data.get("decision", ""),
                                      data.get("reason", ""), data.get("new_points") or None)
    except (Invalid, Conflict) as exc:
        row = await Appeal.get_or_none(id=appeal_id)
        if row is None:
            raise
        return await _refused(request, row.record_id, exc, "decide", data)
    return _back(appeal.record_id, request, "decided_msg", id=appeal_id)


@get("/new", opt=ADMIN, include_in_schema=False)
async def new_page(request: Request, unit: UnitCode = "", measure: Code12 = "refer"
                   ) -> Template:
    return page(request, "accountability/new.html", measures=MEASURES, errors={},
                targets=TARGETS, form={"unit_code": unit, "measure": measure}, error="")


@post("/new", opt=ADMIN, include_in_schema=False)
async def new_submit(request: Request, data: URLEncodedBody[dict[str, str]]) -> Template | Redirect:
    from core.errors import KaoheError

    lang = language(request)
    try:
        unit = await unit_picker.resolve(data.get("unit_code"), field="unit_code",
                                         label=i18n.t("accountability.unit", lang),
                                         required=True, lang=lang)
        record = await services.create_manual(**_manual_args({**data, "unit_code": unit.code}))
    except KaoheError as exc:
        return page(request, "accountability/new.html", status_code=exc.status,
                    errors={exc.field: exc.text(language(request))} if exc.field else {},
                    measures=MEASURES, targets=TARGETS, form=data,
                    error=exc.text(language(request)))
    return _back(record.id, request, "created_msg", id=record.id)


def _manual_args(data: dict[str, Any]) -> dict[str, Any]:
    return {k: str(data.get(k, "") or "") for k in (
        "unit_code", "measure", "points", "reason", "responsible_person", "period", "trigger_ref",
        "trigger_link")} | {"target": str(data.get("target") or "unit")}


# -- API ---------------------------------------------------------------------------------

def _paged(items: list[Any], pager: Any) -> Response:
    """One page of a JSON list; the whole count and the page in headers, so that a client
    knows there is more (the body stays the list it always was)."""
    return Response(items, headers={"X-Total-Count": str(pager.total), "X-Page": str(pager.page),
                                    "X-Page-Size": str(pager.size)})


@get("/records", opt=READERS, response_headers=paged_headers())
async def api_records(request: Request, status: RecordStatus = "", period: PeriodCode = "",
                      unit: UnitCode = "", measure: Code12 = "", page: PageNo = 1,
                      size: PageSize = API_SIZE) -> Response[list[shapes.RecordOut]]:
    """Records the caller may see (unit officers: their unit subtree, approved measures only),
    newest first, one page at a time (headers X-Total-Count, X-Page, X-Page-Size)."""
    user = current_user(request)
    qs = await services.records_query(user, status=status, period=period, unit_code=unit,
                                      measure=measure)
    pager = await paginate(qs, page, size)
    return _paged([services.record_out(r, user) for r in pager.items], pager)


@get("/records/{record_id:int}", opt=READERS)
async def api_record(request: Request, record_id: Id) -> shapes.RecordDetailOut:
    """One record with its history, appeals and appeal deadline."""
    user = current_user(request)
    record = await services.get_record(record_id, user)
    deadline = await appeals.deadline(record) if record.approved_at else None
    can = why = None
    if user.role == "unit_officer":
        can, why = await appeals.can_appeal(record, user)
    return shapes.RecordDetailOut(
        **msgspec.structs.asdict(services.record_out(record, user)),
        history=[shapes.HistoryOut.of(h) for h in await services.history_for(record, user)],
        appeals=[shapes.AppealOut.of(a) for a in await Appeal.filter(record=record).order_by("id")],
        appeal_deadline=deadline.isoformat() if deadline else None, can_appeal=can, why_not=why)


@post("/records", opt=ADMIN, status_code=201)
async def api_create(data: JSONBody[shapes.ManualIn]) -> shapes.RecordOut:
    """Record a measure by hand; the only way to 移送纪检监察 (refer). It stands at once."""
    record = await services.create_manual(**data.as_args())
    return services.record_out(record)


@post("/records/{record_id:int}/approve", opt=ADMIN, status_code=200)
async def api_approve(record_id: Id, data: JSONBody[shapes.ApproveIn | None] = None
                      ) -> shapes.RecordOut:
    """Approve a proposal (optionally naming the responsible person or new points). 409 twice."""
    data = data or shapes.ApproveIn()
    record = await services.approve(record_id, responsible_person=data.responsible_person,
                                    points=data.points, note=data.note)
    return services.record_out(record)


@post("/records/{record_id:int}/dismiss", opt=ADMIN, status_code=200)
async def api_dismiss(record_id: Id, data: JSONBody[shapes.DismissIn | None] = None
                      ) -> shapes.RecordOut:
    """Dismiss a proposal with a `reason`; a dismissed upgrade restores the earlier measure."""
    record = await services.dismiss(record_id, (data or shapes.DismissIn()).reason)
    await record.fetch_related("unit")
    return services.record_out(record)


@post("/records/{record_id:int}/carry-out", opt=ADMIN, status_code=200)
async def api_carry_out(record_id: Id, data: JSONBody[shapes.CarryOutIn | None] = None
                        ) -> shapes.RecordOut:
    """Record that an approved measure was carried out: `date` (default today), `notes`."""
    data = data or shapes.CarryOutIn()
    record = await services.carry_out(record_id, on=data.date, notes=data.notes)
    return services.record_out(record)


@post("/records/{record_id:int}/close", opt=ADMIN, status_code=200)
async def api_close(record_id: Id, data: JSONBody[shapes.CloseIn | None] = None
                    ) -> shapes.RecordOut:
    """Close a carried-out record (refused while an appeal is pending)."""
    record = await services.close(record_id, (data or shapes.CloseIn()).note)
    return services.record_out(record)


@post("/records/{record_id:int}/appeals", opt={"roles": OFFICER_ONLY}, status_code=201)
async def api_appeal(request: Request, record_id: Id,
                     data: MultipartBody[dict]) -> shapes.AppealOut:
    """Appeal (申诉) as multipart: `reasons` and the `evidence` file."""
    name, content = await _upload(data)
    appeal = await appeals.submit(current_user(request), record_id,
                                  reasons=str(data.get("reasons", "")), evidence_name=name,
                                  evidence=content, evidence_dir=_evidence_dir(request),
                                  max_bytes=_max_bytes(request))
    return shapes.AppealOut.of(appeal)


@get("/appeals", opt={"roles": ADMIN_LEADER}, response_headers=paged_headers())
async def api_appeals(status: AppealStatus = "", page: PageNo = 1,
                      size: PageSize = API_SIZE) -> Response[list[shapes.AppealOut]]:
    """Appeals, newest first; `status=pending` for the ones to decide; one page at a time
    (headers X-Total-Count, X-Page, X-Page-Size)."""
    qs = Appeal.all() if not status else Appeal.filter(status=status)
    pager = await paginate(qs.order_by("-id"), page, size)
    return _paged([shapes.AppealOut.of(a) for a in pager.items], pager)


@post("/appeals/{appeal_id:int}/decide", opt=ADMIN, status_code=200)
async def api_decide(appeal_id: Id, data: JSONBody[shapes.DecideIn]) -> shapes.AppealOut:
    """Decide an appeal: `decision` uphold|reduce|withdraw, `reason`, `new_points` for reduce."""
    appeal = await appeals.decide(appeal_id, data.decision, data.reason, data.new_points)
    return shapes.AppealOut.of(appeal)


@get("/appeals/{appeal_id:int}/evidence", opt=READERS, media_type=OCTET)
async def api_evidence(request: Request, appeal_id: Id) -> Response:
    """The evidence file of an appeal (the appealing unit, admins and leaders)."""
    appeal = await Appeal.get_or_none(id=appeal_id).select_related("record__unit")
    if appeal is None or not appeal.evidence_path:
        raise NotFound("not_found", f"appeal #{appeal_id} has no evidence file")
    scope = await scope_for(current_user(request))
    if not scope.allows_unit_path(appeal.record.unit.path):
        raise NotFound("not_found", f"appeal #{appeal_id} has no evidence file")
    path = Path(appeal.evidence_path)
    if not path.exists():
        raise NotFound("not_found", f"appeal #{appeal_id}: the evidence file is missing")
    return download(path.read_bytes(), appeal.evidence_name, OCTET, cache="private, no-store")


@get("/ladder", opt={"roles": ADMIN_LEADER})
async def api_ladder() -> shapes.LadderOut:
    """The escalation ladder of the current assessment definition."""
    return shapes.LadderOut.of(await services.current_ladder())


PAGES = [index, records_page, appeals_page, queue_page, record_page, approve_form, dismiss_form, carry_out_form,
         close_form, appeal_form, decide_form, new_page, new_submit, ladder_page]
API = [api_records, api_record, api_create, api_approve, api_dismiss, api_carry_out, api_close,
       api_appeal, api_appeals, api_decide, api_evidence, api_ladder]
