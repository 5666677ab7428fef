"""Admin pages of one organization (edit, close or reopen, its instructors, its denominator
history), of one instructor's organizations (reassigning those left without one), and of
the denominator's history across periods. The work is in org_edit and assignments."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.params import URLEncodedBody
from litestar.response import Redirect, Template

from core import clock, i18n, periods, web
from core.accounts import User
from core.errors import FieldsInvalid, KaoheError, NotFound, field_errors
from core.params import Id, PageNo, PeriodCode, path_text
from core.roles import ADMIN_ONLY
from plugins.coverage import assignments, codes, denominator, org_edit
from plugins.coverage.models import Organization, OrganizationHistory
from plugins.coverage.registry import party_orgs_of

ADMIN = {"roles": ADMIN_ONLY}
Uscc = path_text(32)
HISTORY_PAGE = 50


def _go(path: str, msg: str = "", anchor: str = "") -> Redirect:
    return Redirect(path=path + ("?" + urlencode({"msg": msg}) if msg else "") + anchor)


async def _org(request: Request, uscc: str) -> Organization:
    code = uscc.strip().upper()
    org = await Organization.get_or_none(uscc=code).select_related("community")
    if org is None:
        raise NotFound("unknown_org", i18n.t("coverage.err.unknown_org", web.language(request),
                                             value=code[:32]), field="uscc")
    return org


async def _org_page(request: Request, org: Organization, status_code: int = 200,
                    errors: dict[str, dict[str, str]] | None = None,
                    forms: dict[str, dict[str, str]] | None = None) -> Template:
    lang = web.language(request)
    history = await OrganizationHistory.filter(organization_id=org.id).order_by("-id").limit(100)
    forms = {"edit": org_edit.form_of(org), "close": {"status": "closed"},
             "assign": {}, **(forms or {})}
    return web.page(request, "coverage/organization.html", status_code=status_code, org=org,
                    codes=codes, errors={"edit": {}, "close": {}, "assign": {}, "end": {},
                                         **(errors or {})}, forms=forms,
                    assignments=await assignments.history_of(org),
                    nearby=await assignments.nearby_instructors(org),
                    party=await party_orgs_of(org.id),
                    lines=await org_edit.describe(list(history), lang), tz=clock.tz(),
                    show_org=False)


@get("/org/{uscc:str}", opt=ADMIN, include_in_schema=False)
async def org_page(request: Request, uscc: Uscc) -> Template:
    return await _org_page(request, await _org(request, uscc))


def _form(data: dict[str, str], names: tuple[str, ...]) -> dict[str, str]:
    return {k: (data.get(k) or "").strip() for k in names}


@post("/org/{uscc:str}/edit", opt=ADMIN, include_in_schema=False)
async def org_edit_save(request: Request, uscc: Uscc,
                        data: URLEncodedBody[dict[str, str]]) -> Template | Redirect:
    lang = web.language(request)
    org = await _org(request, uscc)
    form = _form(data, org_edit.EDIT_FIELDS)
    try:
        changed = await org_edit.update(org, await org_edit.check(form, lang))
    except FieldsInvalid as exc:
        return await _org_page(request, org, 422, {"edit": exc.errors}, {"edit": form})
    key = "coverage.org.saved" if changed else "coverage.org.unchanged"
    return _go(f"/coverage/org/{org.uscc}", i18n.t(key, lang, name=org.name))


@post("/org/{uscc:str}/close", opt=ADMIN, include_in_schema=False)
async def org_close(request: Request, uscc: Uscc,
                    data: URLEncodedBody[dict[str, str]]) -> Template | Redirect:
    """Checked first; then a confirmation page says what closing does; `confirm=1` does it."""
    lang = web.language(request)
    org = await _org(request, uscc)
    form = _form(data, ("status", "closed_on", "reason"))
    try:
        clean = org_edit.check_close(form, org, lang)
    except FieldsInvalid as exc:
        return await _org_page(request, org, 422, {"close": exc.errors}, {"close": form})
    if data.get("confirm") != "1":
        current = [a for a in await assignments.history_of(org) if a.end_on is None]
        return web.page(request, "coverage/organization_close.html", org=org, clean=clean,
                        form=form, codes=codes, current=current)
    await org_edit.close(org, clean)
    return _go(f"/coverage/org/{org.uscc}", i18n.t(
        "coverage.org.closed", lang, name=org.name, status=i18n.t(f"coverage.label.status.{clean['status']}", lang),
        closed_on=clean["closed_on"].isoformat()))


@post("/org/{uscc:str}/reopen", opt=ADMIN, include_in_schema=False)
async def org_reopen(request: Request, uscc: Uscc) -> Template | Redirect:
    lang = web.language(request)
    org = await _org(request, uscc)
    try:
        await org_edit.reopen(org, lang)
    except FieldsInvalid as exc:
        return await _org_page(request, org, 422, {"close": exc.errors})
    return _go(f"/coverage/org/{org.uscc}", i18n.t("coverage.org.reopened", lang, name=org.name))


@post("/org/{uscc:str}/assign", opt=ADMIN, include_in_schema=False)
async def org_assign(request: Request, uscc: Uscc,
                     data: URLEncodedBody[dict[str, str]]) -> Template | Redirect:
    lang = web.language(request)
    org = await _org(request, uscc)
    form = _form(data, ("instructor", "start_on"))
    try:
        row = await assignments.add(org, form["instructor"], form["start_on"], lang)
    except FieldsInvalid as exc:
        return await _org_page(request, org, 422, {"assign": exc.errors}, {"assign": form})
    user = await User.get(id=row.instructor_id)
    return _go(f"/coverage/org/{org.uscc}", i18n.t(
        "coverage.assign.assigned", lang, name=user.display_name or user.username,
        org=org.name), "#instructors")


@post("/org/{uscc:str}/unassign", opt=ADMIN, include_in_schema=False)
async def org_unassign(request: Request, uscc: Uscc,
                       data: URLEncodedBody[dict[str, str]]) -> Template | Redirect:
    lang = web.language(request)
    org = await _org(request, uscc)
    raw = (data.get("assignment") or "").strip()
    try:
        if not (raw.isdigit() and 0 < int(raw) < 2**53):
            raise FieldsInvalid({"assignment": i18n.t("coverage.assign.err_not_current", lang)})
        user = await assignments.end(org, int(raw), lang)
    except FieldsInvalid as exc:
        return await _org_page(request, org, 422, {"end": exc.errors})
    return _go(f"/coverage/org/{org.uscc}", i18n.t(
        "coverage.assign.ended_one", lang, name=user.display_name or user.username,
        org=org.name), "#instructors")


# -- one instructor's organizations ----------------------------------------------------------

async def _instructor(request: Request, user_id: int) -> User:
    user = await User.get_or_none(id=user_id)
    if user is None:
        raise NotFound("user_not_found", i18n.t("users.not_found", web.language(request),
                                                id=user_id))
    return user


async def _instructor_page(request: Request, user: User, status_code: int = 200,
                           errors: dict[str, str] | None = None,
                           form: dict[str, Any] | None = None) -> Template:
    orphans = await assignments.orphans_of(user)
    return web.page(request, "coverage/instructor.html", status_code=status_code,
                    person=user, current=await assignments.current_of(user), orphans=orphans,
                    errors=errors or {}, form=form or {"orgs": {o.id for o in orphans}},
                    codes=codes)


@get("/instructors/{user_id:int}", opt=ADMIN, include_in_schema=False)
async def instructor_page(request: Request, user_id: Id) -> Template:
    return await _instructor_page(request, await _instructor(request, user_id))


@post("/instructors/{user_id:int}/reassign", opt=ADMIN, include_in_schema=False)
async def instructor_reassign(request: Request, user_id: Id) -> Template | Redirect:
    lang = web.language(request)
    user = await _instructor(request, user_id)
    form = await request.form()
    chosen = [str(v) for v in form.getall("orgs", [])][:5000]
    text = str(form.get("instructor") or "").strip()
    try:
        done = await assignments.reassign(user, chosen, text, lang)
    except KaoheError as exc:
        return await _instructor_page(request, user, exc.status, field_errors(exc), {
            "orgs": {int(v) for v in chosen if v.isdigit() and len(v) < 16},
            "instructor": text})
    return _go(f"/coverage/instructors/{user.id}", i18n.t(
        "coverage.assign.reassigned", lang, n=len(done.organizations),
        name=done.instructor.display_name or done.instructor.username))


# -- the denominator across periods ---------------------------------------------------------

@get("/history", opt=ADMIN, include_in_schema=False)
async def history_page(request: Request, period: PeriodCode = None,
                       page: PageNo = 1) -> Template:
    lang = web.language(request)
    rows = await denominator.by_period()
    chosen = next((r for r in rows if r.period.code == period), None) if period else None
    if period and chosen is None:
        raise NotFound("unknown_period", i18n.t("periods.not_found", lang, code=period),
                       field="period")
    qs = denominator.changes(chosen.period if chosen else None)
    total = await qs.count()
    pages = max(1, -(-total // HISTORY_PAGE))
    page = min(page, pages)
    found = await qs.offset((page - 1) * HISTORY_PAGE).limit(HISTORY_PAGE).select_related(
        "organization")
    return web.page(request, "coverage/history.html", rows=rows, chosen=chosen,
                    lines=await org_edit.describe(list(found), lang), total=total, page=page,
                    pages=pages, tz=clock.tz(), show_org=True,
                    period_names={r.period.code: periods.name(r.period, lang) for r in rows})


PAGES = [org_page, org_edit_save, org_close, org_reopen, org_assign, org_unassign,
         instructor_page, instructor_reassign, history_page]
