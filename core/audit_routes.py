"""The audit trail for admins: a filtered, paged page, the same as JSON, and an Excel export."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, Response, get
from litestar.params import FromQuery, Parameter
from litestar.response import Template

from core import audit, audit_anchor, clock, i18n, web
from core.api_shapes import AnchorOut, AuditEntryOut, AuditPageOut, FindingOut, VerifyOut
from core.errors import Invalid
from core.paging import DEFAULT_SIZE, paginate
from core.params import PageNo, PageSize, text
from core.roles import ADMIN_ONLY

ADMIN = ADMIN_ONLY
PAGE_SIZE = 50
EXPORT_LIMIT = 100_000
FILTERS = ("actor", "action", "object_type", "object_id", "date_from", "date_to")


def _parse_filters(values: dict[str, str], lang: str) -> dict[str, Any]:
    """Query parameters → keyword arguments of `audit.search`; a bad date names its field."""
    out: dict[str, Any] = {k: (values.get(k) or "").strip() for k in FILTERS[:4]}
    for name in ("date_from", "date_to"):
        text = (values.get(name) or "").strip()
        try:
            out[name] = dt.date.fromisoformat(text) if text else None
        except ValueError:
            raise Invalid("invalid_date", i18n.t("audit.bad_date", lang, field=name, value=text),
                          field=name) from None
    if out["date_from"] and out["date_to"] and out["date_from"] > out["date_to"]:
        raise Invalid("invalid_range", i18n.t("audit.bad_range", lang), field="date_to")
    return out


def _short(value: Any) -> str:
    if value is None:
        return "∅"
    if value == "":
        return '""'
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "…"


def changes(before: Any, after: Any) -> list[tuple[str, str, str]]:
    """(field, old, new) for what differs; whole values when they are not both objects."""
    if isinstance(before, dict) or isinstance(after, dict):
        b = before if isinstance(before, dict) else {}
        a = after if isinstance(after, dict) else {}
        keys = sorted(set(b) | set(a))
        return [(k, _short(b.get(k)), _short(a.get(k))) for k in keys if b.get(k) != a.get(k)]
    if before is None and after is None:
        return []
    return [("", _short(before), _short(after))]


def field_label(key: str, lang: str) -> str:
    """A changed field as the audit page names it: its catalog label, else the stored key."""
    label = i18n.t(f"audit.field.{key}", lang)
    return key if label == f"audit.field.{key}" else label


def changes_text(before: Any, after: Any, lang: str = i18n.DEFAULT) -> str:
    return "; ".join(f"{field_label(k, lang)}: {old} → {new}" if k else f"{old} → {new}"
                     for k, old, new in changes(before, after))


def _local(at: dt.datetime, tz: str) -> str:
    from zoneinfo import ZoneInfo

    return at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


def _query(request: Request) -> dict[str, str]:
    return {k: request.query_params.get(k, "") for k in FILTERS}


@get("/audit", opt={"roles": ADMIN}, include_in_schema=False)
async def audit_page(request: Request, page: PageNo = 1, size: PageSize = DEFAULT_SIZE) -> Template:
    lang = web.language(request)
    tz = request.app.state.settings.app.timezone
    raw = _query(request)
    try:
        qs = audit.search(**_parse_filters(raw, lang), tz=tz)
    except Invalid as exc:
        return web.page(request, "audit.html", status_code=422, error=exc.message,
                        error_field=exc.field, f=raw, rows=[], pager=None, size=size, qs="")
    pager = await paginate(qs, page, size, request)
    rows = [{"e": e, "at": _local(e.at, tz), "changes": changes(e.before, e.after),
             "reason": audit.reason_text(e.reason, lang), "said": e.reason.startswith(audit.SAID)}
            for e in pager.items]
    qs_text = urlencode({k: v for k, v in raw.items() if v})
    return web.page(request, "audit.html", error="", error_field="", f=raw, rows=rows,
                    pager=pager, size=pager.size, qs=qs_text)


# The API's filters, bounded by their columns (a longer value is refused, 400, naming it);
# the dates stay text so a bad one is explained as on the page (422, the field named).
ActorQ = text(100, "操作人")
ActionQ = text(64, "操作，前缀匹配，如 rectification.")
ObjectTypeQ = text(64, "对象类型")
ObjectIdQ = text(64, "对象编号")
DateQ = text(10, "日期 yyyy-mm-dd（北京时间）")
PerPage = Annotated[int, Parameter(ge=1, le=500, description="每页条数 (1 – 500)")]


@get("/api/audit", opt={"roles": ADMIN}, tags=["platform"])
async def api_audit(request: Request, page: PageNo = 1, per_page: PerPage = PAGE_SIZE,
                    actor: ActorQ = None, action: ActionQ = None,
                    object_type: ObjectTypeQ = None, object_id: ObjectIdQ = None,
                    date_from: DateQ = None, date_to: DateQ = None) -> Response[AuditPageOut]:
    """Audit entries, newest first, filtered like the page, counted and paged in the database
    (also in headers X-Total-Count, X-Page, X-Page-Size)."""
    tz = request.app.state.settings.app.timezone
    raw = {"actor": actor, "action": action, "object_type": object_type, "object_id": object_id,
           "date_from": date_from, "date_to": date_to}
    qs = audit.search(**_parse_filters(raw, web.language(request)), tz=tz)
    total = await qs.count()
    entries = await qs.offset((page - 1) * per_page).limit(per_page)
    body = AuditPageOut(total=total, page=page, per_page=per_page,
                        entries=[AuditEntryOut.of(e) for e in entries])
    return Response(body, headers={"X-Total-Count": str(total), "X-Page": str(page),
                                   "X-Page-Size": str(per_page)})


async def build_workbook(filters: dict[str, Any], tz: str, lang: str) -> bytes:
    """The filtered trail as a workbook: one row per entry, oldest first, with its hash."""
    from core.xlsx import Column, WorkbookBuilder, now_text

    qs = audit.search(**filters, tz=tz)
    total = await qs.count()
    if total > EXPORT_LIMIT:
        raise Invalid("export_too_large", i18n.t("audit.too_many", lang, n=total,
                                                  limit=EXPORT_LIMIT))
    entries = await qs.order_by("id")
    t = lambda key: i18n.t(f"audit.{key}", lang)  # noqa: E731
    cols = [
        Column("id", t("id"), kind="int"),
        Column("at", t("at"), kind="datetime", number_format="yyyy-mm-dd hh:mm:ss"),
        Column("actor", t("actor")), Column("action", t("action")),
        Column("object_type", t("object_type")), Column("object_id", t("object_id")),
        Column("changes", t("changes"), width=50, wrap=True),
        Column("before", t("before"), width=40), Column("after", t("after"), width=40),
        Column("reason", t("reason"), width=30, wrap=True), Column("hash", t("hash"), width=20),
    ]

    def rows():
        for e in entries:
            yield {"id": e.id, "at": e.at, "actor": e.actor, "action": e.action,
                   "object_type": e.object_type, "object_id": e.object_id,
                   "changes": changes_text(e.before, e.after, lang),
                   "before": "" if e.before is None else json.dumps(e.before, ensure_ascii=False),
                   "after": "" if e.after is None else json.dumps(e.after, ensure_ascii=False),
                   "reason": audit.reason_text(e.reason, lang), "hash": e.hash}

    described = [f"{t(k)} {v}" for k, v in filters.items() if v]
    subtitle = " · ".join([*described, f"{t('count')} {total}",
                           f"{i18n.t('common.generated_at', lang)} {now_text()}"])
    wb = WorkbookBuilder(write_only=total > 5000)
    wb.add_table(sheet=t("title"), title=t("title"), subtitle=subtitle, columns=cols, rows=rows())
    return wb.to_bytes()


@get("/audit/export.xlsx", opt={"roles": ADMIN}, include_in_schema=False)
async def audit_export(request: Request) -> Response:
    lang = web.language(request)
    filters = _parse_filters(_query(request), lang)
    data = await build_workbook(filters, request.app.state.settings.app.timezone, lang)
    stamp = clock.now().strftime("%Y%m%d-%H%M%S")
    return web.download(data, f"audit-{stamp}.xlsx")


def _anchor_view(anchor: Any) -> dict[str, Any] | None:
    if anchor is None:
        return None
    a = anchor.data
    return {"at": audit_anchor._local(a["at"]), "count": a["count"], "head_id": a["head_id"],
            "head_hash": a["head_hash"], "line": anchor.line}


@get("/audit/verify", opt={"roles": ADMIN}, include_in_schema=False)
async def verify_page(request: Request, run: FromQuery[bool] = False) -> Template:
    """The latest anchor; with ?run=1 the whole check, each finding in the user's language."""
    lang = web.language(request)
    settings = request.app.state.settings
    try:
        path = audit_anchor.anchor_path(settings)
    except audit_anchor.AnchorError as exc:
        return web.page(request, "audit_verify.html", status_code=500, error=i18n.t(
            "audit_verify.bad_file", lang, error=str(exc)), path="", latest=None, lines=[],
            ran=False, ok=False, anchors=0)
    import asyncio

    anchors = await asyncio.to_thread(audit_anchor.read_anchors, path,
                                      audit_anchor._key(settings))
    valid = [a for a in anchors if not a.problem]
    lines, ok = [], False
    if run:
        result = await audit_anchor.check(settings, path)
        lines, ok = audit_anchor.describe(result, lang), result.ok
    return web.page(request, "audit_verify.html", error="", path=str(path),
                    latest=_anchor_view(valid[-1] if valid else None), anchors=len(anchors),
                    lines=lines, ran=run, ok=ok)


@get("/api/audit/verify", opt={"roles": ADMIN}, tags=["platform"])
async def api_verify(request: Request) -> VerifyOut:
    """Check the audit chain against the signed anchors kept outside the database:
    `ok`, the state (match, missing, rewritten, none, …), entries missing, and each finding."""
    lang = web.language(request)
    settings = request.app.state.settings
    try:
        result = await audit_anchor.check(settings)
    except audit_anchor.AnchorError as exc:
        raise Invalid("bad_anchor_file", i18n.t("audit_verify.bad_file", lang, error=str(exc)),
                      field="storage.audit_anchor_file") from None
    latest = _anchor_view(result.latest)
    return VerifyOut(
        ok=result.ok, entries_checked=result.walk.checked,
        broken_entry=result.walk.broken.id if result.walk.broken else None,
        state=result.state, missing=result.missing,
        refused_anchor_lines=[a.line for a in result.bad],
        latest_anchor=AnchorOut(**latest) if latest else None,
        findings=[FindingOut(level=level, message=text)
                  for level, text in audit_anchor.describe(result, lang)])


HANDLERS = [audit_page, api_audit, audit_export, verify_page, api_verify]
