"""The edit page of one report subscription (/ranking/subscriptions/ID/edit); the form's
rules are in subscription_form."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.response import Redirect, Template

from core import i18n, periods
from core.errors import FieldsInvalid, Invalid
from core.params import Id
from core.roles import ADMIN_ONLY
from core.web import language, page
from plugins.ranking import models, reports, subscription_form, subscriptions
from plugins.ranking.services import current_scheme

ADMIN = {"roles": ADMIN_ONLY}


async def _page(request: Request, sub: Any, status_code: int = 200,
                errors: dict[str, str] | None = None,
                form: dict[str, Any] | None = None) -> Template:
    lang = language(request)
    _, scheme = await current_scheme(required=False)
    exporters = sorted(subscriptions.all_exporters().items())
    rows = await periods.listing()
    return page(request, "ranking/subscription_edit.html", status_code=status_code, sub=sub,
                is_new=sub.id is None,
                form=form or subscription_form.form_of(sub), errors=errors or {},
                exporters=[(name, i18n.exporter_title(exp, lang)) for name, exp in exporters],
                groups=[(g.key, g.name) for g in (scheme.groups if scheme else [])],
                periods=[(p.code, periods.name(p, lang)) for p in rows],
                roles=subscription_form.role_choices(lang),
                upcoming=[reports._local(t) for t in await subscriptions.next_times(sub, 3)]
                if sub.active and sub.id is not None else [])


@get("/subscriptions/{sub_id:int}/edit", opt=ADMIN, include_in_schema=False)
async def subscription_edit_page(request: Request, sub_id: Id) -> Template:
    return await _page(request, await subscriptions.get(sub_id))


@post("/subscriptions/{sub_id:int}/edit", opt=ADMIN, include_in_schema=False)
async def subscription_edit_save(request: Request, sub_id: Id) -> Template | Redirect:
    lang = language(request)
    sub = await subscriptions.get(sub_id)
    data = await request.form()
    form: dict[str, Any] = {k: str(data.get(k) or "")[:2000] for k in subscription_form.FORM_FIELDS}
    form["roles"] = [str(r) for r in data.getall("roles", [])][:10]
    form["active"] = data.get("active") == "1"
    try:
        raw = await subscription_form.check(sub, form, lang)
    except FieldsInvalid as exc:
        return await _page(request, sub, 422, exc.errors, form)
    sub = await subscription_form.save(sub, raw)
    msg = i18n.t("ranking.subscription_saved", lang, name=sub.title)
    return Redirect(path=f"/ranking/subscriptions/{sub.id}?" + urlencode({"msg": msg}))


def _blank(key: str = "") -> models.Subscription:
    """An unsaved subscription with the defaults the new form starts from."""
    return models.Subscription(key=key, title="", exporter="ranking", group="",
                               period_rule="last_closed", cron="0 8 1-10 1,3,5,7,9,11 *",
                               calendar="first_workday", recipients=[{"role": "leader"}],
                               origin="admin", active=True)


def _posted(data: Any) -> dict[str, Any]:
    form: dict[str, Any] = {k: str(data.get(k) or "")[:2000] for k in subscription_form.FORM_FIELDS}
    form["roles"] = [str(r) for r in data.getall("roles", [])][:10] if hasattr(
        data, "getall") else []
    form["active"] = data.get("active") == "1"
    form["key"] = str(data.get("key") or "").strip()[:64]
    return form


@get("/subscriptions/new", opt=ADMIN, include_in_schema=False)
async def subscription_new_page(request: Request) -> Template:
    return await _page(request, _blank())


@post("/subscriptions/new", opt=ADMIN, include_in_schema=False)
async def subscription_new_save(request: Request) -> Template | Redirect:
    lang = language(request)
    form = _posted(await request.form())
    blank = _blank(form["key"])
    try:
        raw = await subscription_form.check(blank, form, lang)
        sub = await subscriptions.save(raw, origin="admin")
    except FieldsInvalid as exc:
        return await _page(request, blank, 422, exc.errors, form)
    except Invalid as exc:
        return await _page(request, blank, 422, {exc.field or "key": exc.text(lang)}, form)
    msg = i18n.t("ranking.subscription_saved", lang, name=sub.title)
    return Redirect(path=f"/ranking/subscriptions/{sub.id}?" + urlencode({"msg": msg}))


async def new_page_refused(request: Request, data: dict[str, str], exc: Invalid) -> Template:
    """A refusal of the older one-line form, answered on the new form in the user's words."""
    lang = language(request)
    blank = _blank(str(data.get("key") or ""))
    rule = str(data.get("period_rule") or "last_closed")
    form = {**subscription_form.form_of(blank), "roles": [],
            **{k: str(data.get(k) or "") for k in ("title", "exporter", "group", "detail_group",
                                                   "cron", "calendar") if data.get(k)},
            "rule": "fixed" if rule.startswith("fixed:") else rule,
            "fixed_period": rule[len("fixed:"):] if rule.startswith("fixed:") else "",
            "others": str(data.get("recipients") or ""), "key": blank.key}
    try:
        await subscription_form.check(blank, form, lang)
        errors = {exc.field or "": exc.text(lang)}
    except FieldsInvalid as found:
        errors = found.errors
    return await _page(request, blank, 422, errors, form)


PAGES = [subscription_edit_page, subscription_edit_save, subscription_new_page,
         subscription_new_save]
