"""One organization for admins: editing its registry fields, closing (注销 / 迁出) and
reopening it, and its denominator history in words. The checks are the registry sheet's
(plugins.coverage.codes), so a page, an upload and the API refuse with the same sentences.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from tortoise.transactions import in_transaction

from core import audit, i18n, unit_picker
from core.errors import FieldsInvalid, Invalid
from core.orgs import OrgUnit
from plugins.coverage import codes
from plugins.coverage.codes import FieldError
from plugins.coverage.models import Organization, OrganizationHistory
from plugins.coverage.registry import (
    close_organization,
    denominator_state,
    guard_closed_periods,
    keep_history,
)
from plugins.coverage.reporting import today

EDIT_FIELDS = ("name", "kind", "industry", "community", "employees", "formal_members",
               "probationary_members", "valid_from", "demo_site")
CLOSE_STATUSES = ("closed", "moved")


def form_of(org: Organization) -> dict[str, str]:
    return {"name": org.name, "kind": org.kind, "industry": org.industry,
            "community": org.community.code, "employees": str(org.employees),
            "formal_members": str(org.formal_members),
            "probationary_members": str(org.probationary_members),
            "valid_from": org.valid_from.isoformat() if org.valid_from else "",
            "demo_site": "1" if org.demo_site else ""}


async def check(values: dict[str, Any], lang: str = i18n.DEFAULT) -> dict[str, Any]:
    """The edit form, checked field by field; every refusal is named beside its field."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    checks = {
        "name": lambda: codes.check_text(values.get("name"), "name", 200, required=True),
        "kind": lambda: codes.from_label(values.get("kind"), codes.KIND_LABELS, "kind"),
        "industry": lambda: codes.check_text(values.get("industry"), "industry", 100),
        "community": lambda: codes.check_text(values.get("community"), "community", 100,
                                              required=True),
        "employees": lambda: codes.check_count(values.get("employees"), "employees", False),
        "formal_members": lambda: codes.check_count(values.get("formal_members"),
                                                    "formal_members", False),
        "probationary_members": lambda: codes.check_count(values.get("probationary_members"),
                                                          "probationary_members", False),
        "valid_from": lambda: codes.check_date(values.get("valid_from"), "valid_from"),
    }
    for name, fn in checks.items():
        try:
            clean[name] = fn()
        except FieldError as exc:
            errors[name] = exc.message(lang)
    clean["demo_site"] = str(values.get("demo_site") or "") in ("1", "on", "true")
    if "community" in clean:
        try:  # a code, or a community's name (core.unit_picker)
            unit = await unit_picker.resolve(
                clean["community"], field="community", levels=("community",), lang=lang,
                label=i18n.t("coverage.field.community", lang))
            clean["community_id"] = unit.id
        except Invalid as exc:
            errors["community"] = exc.message
    if clean.get("valid_from") and clean["valid_from"] > today():
        errors["valid_from"] = i18n.t("coverage.org.err_future", lang,
                                      value=clean["valid_from"].isoformat())
    if errors:
        raise FieldsInvalid(errors)
    clean.pop("community")
    return clean


async def update(org: Organization, clean: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Store the checked fields; a change of the denominator's fields is kept in the history.
    Returns {field: (before, after)} of what changed."""
    changed = {k: (getattr(org, k), v) for k, v in clean.items() if getattr(org, k) != v}
    if not changed:
        return {}
    await guard_closed_periods()  # what closed periods saw stays as it was
    async with in_transaction():
        before = denominator_state(org)
        for k, (_, v) in changed.items():
            setattr(org, k, v)
        await org.save(update_fields=[*changed, "updated_at"])
        await keep_history(org, before, "admin")
        await audit.record("coverage.org.update", "coverage_org", org.uscc,
                           before={k: b for k, (b, _) in changed.items()},
                           after={k: a for k, (_, a) in changed.items()})
    return changed


def check_close(values: dict[str, Any], org: Organization,
                lang: str = i18n.DEFAULT) -> dict[str, Any]:
    errors: dict[str, str] = {}
    status = (values.get("status") or "").strip()
    if status not in CLOSE_STATUSES:
        errors["status"] = i18n.t("coverage.org.err_status", lang)
    closed_on = None
    try:
        closed_on = codes.check_date(values.get("closed_on"), "closed_on", required=True)
    except FieldError as exc:
        errors["closed_on"] = exc.message(lang)
    if closed_on and org.valid_from and closed_on < org.valid_from:
        errors["closed_on"] = i18n.t("coverage.org.err_before_valid", lang,
                                     value=closed_on.isoformat(),
                                     valid_from=org.valid_from.isoformat())
    if closed_on and closed_on > today():
        errors["closed_on"] = i18n.t("coverage.org.err_future", lang, value=closed_on.isoformat())
    reason = (values.get("reason") or "").strip()
    if not reason:
        errors["reason"] = i18n.t("coverage.err.required", lang)
    elif len(reason) > 500:
        errors["reason"] = i18n.t("coverage.err.too_long", lang, max=500)
    if org.closed_on is not None:
        errors["status"] = i18n.t("coverage.org.err_closed_already", lang,
                                  closed_on=org.closed_on.isoformat())
    if errors:
        raise FieldsInvalid(errors)
    return {"status": status, "closed_on": closed_on, "reason": reason}


async def close(org: Organization, clean: dict[str, Any]) -> Organization:
    return await close_organization(org, status=clean["status"], closed_on=clean["closed_on"],
                                    reason=clean["reason"], source="admin")


async def reopen(org: Organization, lang: str = i18n.DEFAULT) -> Organization:
    """Undo a close: the organization counts again from its registration on."""
    if org.closed_on is None:
        raise FieldsInvalid({"status": i18n.t("coverage.org.err_active", lang)})
    await guard_closed_periods()
    async with in_transaction():
        before, snap = denominator_state(org), audit.snapshot(org)
        org.status, org.closed_on = "active", None
        await org.save(update_fields=["status", "closed_on", "updated_at"])
        await keep_history(org, before, "admin")
        await audit.record("coverage.org.reopen", "coverage_org", org.uscc, before=snap,
                           after=audit.snapshot(org))
    return org


# -- the denominator history in words -------------------------------------------------------

@dataclass
class HistoryLine:
    row: OrganizationHistory
    organization: Organization | None
    changes: list[tuple[str, str, str]]  # (field label, before, after)


async def describe(rows: list[OrganizationHistory], lang: str = i18n.DEFAULT
                   ) -> list[HistoryLine]:
    """Each history row as (field, before, after) in the user's words: labels, not codes."""
    ids = {v for r in rows for state in (r.before or {}, r.after or {})
           for k, v in state.items() if k == "community_id" and v}
    names = dict(await OrgUnit.filter(id__in=list(ids)).values_list("id", "name")) if ids else {}

    def shown(key: str, value: Any) -> str:
        if value in (None, ""):
            return "—"
        if key in ("kind", "status") and value in codes.LABELS_OF[key]:
            return i18n.t(f"coverage.label.{key}.{value}", lang)
        if key == "community_id":
            return names.get(value, str(value))
        return str(value)

    out = []
    for r in rows:
        before, after = r.before or {}, r.after or {}
        keys = [k for k in after if before.get(k) != after.get(k)] if before else [
            k for k in after if after.get(k) not in (None, "")]
        label = {"community_id": "community"}
        out.append(HistoryLine(r, getattr(r, "organization", None), [
            (i18n.t(f"coverage.field.{label.get(k, k)}", lang),
             shown(k, before.get(k)) if before else "—", shown(k, after.get(k)))
            for k in keys]))
    return out


def period_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    from core import clock

    zone = clock.tz()
    return (dt.datetime.combine(start, dt.time(), zone),
            dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), zone))
