"""The edit form of one report subscription: its fields as people fill them (choices by
name, recipients as roles ticked plus one user or address a line), turned into the stored
shape and checked by the same rules as the API (subscriptions.problems), each refusal in
the user's language beside its field. Saving goes through subscriptions.save (audited)."""

from __future__ import annotations

import re
from typing import Any

from core import i18n
from core.accounts import ROLES
from core.errors import FieldsInvalid
from plugins.ranking import models, subscriptions

RULES = ("last_closed", "current", "fixed")
FORM_FIELDS = ("title", "exporter", "group", "detail_group", "unit", "rule", "fixed_period",
               "period_kind", "cron", "calendar", "others")
INDEX = re.compile(r"^recipients\[(\d+)\]")


def form_of(sub: models.Subscription) -> dict[str, Any]:
    rule = "fixed" if sub.period_rule.startswith("fixed:") else sub.period_rule
    lines = []
    for r in sub.recipients:
        if "user" in r:
            lines.append(r["user"])
        elif "email" in r:
            lines.append(r["email"] + (f" > {r['detail_unit']}" if r.get("detail_unit") else ""))
    return {"title": sub.title, "exporter": sub.exporter, "group": sub.group,
            "detail_group": sub.detail_group, "unit": sub.unit, "rule": rule,
            "fixed_period": sub.period_rule[len("fixed:"):] if rule == "fixed" else "",
            "period_kind": sub.period_kind, "cron": sub.cron, "calendar": sub.calendar,
            "roles": [r["role"] for r in sub.recipients if "role" in r],
            "others": "\n".join(lines), "active": sub.active}


def raw_of(sub: models.Subscription, form: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The stored shape; and for each recipient, where the form had it ("roles" or line N)."""
    recipients: list[dict[str, str]] = []
    where: list[str] = []
    for role in form.get("roles") or []:
        recipients.append({"role": role})
        where.append("roles")
    for n, line in enumerate(str(form.get("others") or "").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        detail = ""
        if ">" in line:
            line, detail = (p.strip() for p in line.split(">", 1))
        if "@" in line:
            recipients.append({"email": line, **({"detail_unit": detail} if detail else {})})
        else:
            recipients.append({"user": line})
        where.append(f"line:{n}")
    rule = form.get("rule") or ""
    if rule == "fixed":
        rule = f"fixed:{(form.get('fixed_period') or '').strip()}"
    raw = {"key": sub.key, "title": str(form.get("title") or "").strip(),
           "exporter": form.get("exporter") or "", "group": form.get("group") or "",
           "detail_group": form.get("detail_group") or "",
           "unit": str(form.get("unit") or "").strip(), "period_rule": rule,
           "period_kind": form.get("period_kind") or "",
           "cron": " ".join(str(form.get("cron") or "").split()),
           "calendar": form.get("calendar") or "", "recipients": recipients,
           "active": bool(form.get("active"))}
    return raw, where


def _field(problem: subscriptions.Problem, where: list[str]) -> tuple[str, str]:
    """The form field a problem belongs to, and the recipient line it names, if any."""
    found = INDEX.match(problem.field)
    if found:
        place = where[int(found.group(1))] if int(found.group(1)) < len(where) else ""
        return ("roles", "") if place == "roles" else ("others", place[len("line:"):])
    if problem.field == "period_rule":
        return ("fixed_period" if problem.key == "fixed_period" else "rule"), ""
    if problem.field in ("recipients",):
        return "others", ""
    return problem.field, ""


async def check(sub: models.Subscription, form: dict[str, Any],
                lang: str = i18n.DEFAULT) -> dict[str, Any]:
    """The subscription to store; every refusal named beside its field, in `lang`."""
    raw, where = raw_of(sub, form)
    found = subscriptions.problems(raw, set(subscriptions.all_exporters()),
                                   await subscriptions._group_keys())
    if form.get("rule") == "fixed" and not (form.get("fixed_period") or "").strip():
        found = [p for p in found if p.field != "period_rule"]
        found.append(subscriptions.Problem("period_rule", "fixed_period", "choose a period",
                                           {"value": ""}))
    if not found:
        found = await subscriptions.database_problems(raw)
    errors: dict[str, str] = {}
    for problem in found:
        name, line = _field(problem, where)
        text = i18n.t(f"ranking.sub_err.{problem.key}", lang, **problem.params)
        if line:
            text = i18n.t("ranking.sub_err.line", lang, line=line, message=text)
        errors[name] = f"{errors[name]}；{text}" if name in errors else text
    if errors:
        raise FieldsInvalid(errors)
    return raw


async def save(sub: models.Subscription, raw: dict[str, Any]) -> models.Subscription:
    return await subscriptions.save(raw, origin=sub.origin, subscription_id=sub.id)


def role_choices(lang: str) -> list[tuple[str, str]]:
    return [(r, i18n.t(f"role.{r}", lang)) for r in ROLES]
