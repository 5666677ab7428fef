"""Mail delivery state for admins: the /mail page, its API and send-again."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import msgspec
from litestar import Request, get, post
from litestar.response import Redirect, Response, Template

from core import audit, clock, i18n, web
from core.errors import Conflict, Invalid, NotFound
from core.mailer import STATUSES, local
from core.notify_models import MailMessage
from core.paging import API_SIZE, DEFAULT_SIZE, paged, paged_headers, paginate
from core.params import Id, PageNo, PageSize, Search, choice
from core.roles import ADMIN_ONLY

ADMIN = {"roles": ADMIN_ONLY}
MailStatus = choice(STATUSES)


class MailOut(msgspec.Struct):
    """One outgoing mail; times in the platform's timezone."""
    id: int
    to: str
    subject: str
    status: str  # queued, sent, failed, digest, digested
    attempts: int
    next_attempt_at: str | None
    last_error: str | None
    created_at: str | None
    sent_at: str | None
    event_key: str | None  # the domain event that caused it, when one did
    attachment: str  # file name, "" when none


class MailList(msgspec.Struct):
    counts: dict[str, int]  # by status, over all mail (the filters do not change them)
    messages: list[MailOut]  # one page; the filtered total is in X-Total-Count


def mail_dict(m: MailMessage, tz: str) -> MailOut:
    def iso(v: dt.datetime | None) -> str | None:
        return v.astimezone(ZoneInfo(tz)).isoformat() if v else None

    return MailOut(id=m.id, to=m.to_addr, subject=m.subject, status=m.status,
                   attempts=m.attempts, next_attempt_at=iso(m.next_attempt_at),
                   last_error=m.last_error, created_at=iso(m.created_at),
                   sent_at=iso(m.sent_at), event_key=m.event_key,
                   attachment=m.attachment_name or (m.attachment_path.rsplit("/", 1)[-1]
                                                    if m.attachment_path else ""))


def _filtered(status: str | None, to: str | None):
    if status and status not in STATUSES:
        raise Invalid("invalid_status", f"status: must be one of {', '.join(STATUSES)}",
                      field="status")
    qs = MailMessage.all()
    if status:
        qs = qs.filter(status=status)
    if to:
        qs = qs.filter(to_addr__icontains=to)
    return qs.order_by("-id")


async def _counts() -> dict[str, int]:
    return {s: await MailMessage.filter(status=s).count() for s in STATUSES}


async def _retry(request: Request, mail_id: Id) -> MailMessage:
    lang = web.language(request)
    mail = await MailMessage.get_or_none(id=mail_id)
    if mail is None:
        raise NotFound("not_found", i18n.t("mail.no_such", lang, id=mail_id), field="id")
    if mail.status != "failed":
        raise Conflict("not_failed", i18n.t("mail.not_failed", lang, id=mail_id,
                                            status=i18n.t(f"mail.status_{mail.status}", lang)),
                       field="status")
    before = audit.snapshot(mail, exclude=("body",))
    now = clock.now()
    # A fresh set of attempts; the last error stays visible until the next try.
    await MailMessage.filter(id=mail_id, status="failed").update(
        status="queued", attempts=0, next_attempt_at=local(request.app.state.settings, now))
    await mail.refresh_from_db()
    await audit.record("mail.retry", "mail", mail_id, before=before, after=audit.snapshot(mail, exclude=("body",)))
    return mail


@get("/api/mail", opt=ADMIN, tags=["platform"], response_headers=paged_headers())
async def api_mail(request: Request, status: MailStatus = None, to: Search = None,
                   page: PageNo = 1, size: PageSize = API_SIZE) -> Response[MailList]:
    """Outgoing mail with its delivery state, newest first, one page at a time (headers
    X-Total-Count, X-Page, X-Page-Size); `status` filters (queued, sent, failed, digest,
    digested), `to` matches part of the address."""
    pager = await paginate(_filtered(status, to), page, size)
    tz = request.app.state.settings.app.timezone
    return paged(MailList(counts=await _counts(),
                          messages=[mail_dict(m, tz) for m in pager.items]), pager)


@post("/api/mail/{mail_id:int}/retry", opt=ADMIN, tags=["platform"], status_code=200)
async def api_mail_retry(request: Request, mail_id: Id) -> MailOut:
    """Queue a failed mail again with a fresh set of attempts."""
    mail = await _retry(request, mail_id)
    return mail_dict(mail, request.app.state.settings.app.timezone)


@get("/mail", opt=ADMIN, include_in_schema=False)
async def mail_page(request: Request, status: MailStatus = None, to: Search = None,
                    page: PageNo = 1, size: PageSize = DEFAULT_SIZE) -> Template:
    to = (to or "").strip()
    pager = await paginate(_filtered(status or None, to or None), page, size, request)
    cfg = request.app.state.settings.mail
    return web.page(request, "mail.html", pager=pager, rows=pager.items, counts=await _counts(),
                    status=status or "", size=pager.size,
                    to=to or "", statuses=STATUSES,
                    tz=ZoneInfo(request.app.state.settings.app.timezone),
                    server=f"{cfg.host}:{cfg.port}", sender=cfg.sender)


@post("/mail/{mail_id:int}/retry", opt=ADMIN, include_in_schema=False)
async def mail_retry_form(request: Request, mail_id: Id) -> Redirect:
    from urllib.parse import quote

    await _retry(request, mail_id)
    msg = i18n.t("mail.retried", web.language(request), id=mail_id)
    return Redirect(path=f"/mail?msg={quote(msg)}")


HANDLERS = [api_mail, api_mail_retry, mail_page, mail_retry_form]
