"""Report subscriptions: checking them (naming the field), storing them, resolving their
period rule, recipients and due times.

Design (see plugins/ranking/README.md): one job `ranking.reports` runs every few minutes and
fires every subscription whose cron rule (plus its working-day filter) fell due since the
last check. A firing first claims the unique row (subscription, scheduled time), so each
firing runs once however many instances run the job. Per-subscription JobSpecs were not
used: jobs are collected once at start-up through a synchronous hook that cannot read the
table, so subscriptions added later would wait for a restart.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from tortoise.transactions import in_transaction

from core import audit, clock
from core.accounts import ROLES, User
from core.calendar import WorkCalendar
from core.errors import Invalid, NotFound
from core.orgs import OrgUnit, Period, parse_period
from core.scheduler import make_trigger
from plugins.ranking import models

KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CALENDARS = ("any", "workday", "first_workday")
PERIOD_KINDS = ("", "year", "half", "quarter", "month")
FIELDS = {"key", "title", "exporter", "group", "unit", "period_rule", "period_kind", "cron",
          "calendar", "recipients", "detail_group", "active"}
RECIPIENT_KEYS = {"user", "email", "role", "detail_unit"}


def all_exporters() -> dict[str, Any]:
    """Every exporter of every loaded plugin, by name."""
    from core.exports import exporters

    return {name: exp for name, (_, exp) in exporters().items()}


@dataclass(frozen=True)
class Problem:
    """One refused field of a subscription: `field` as a key path (recipients[1].email),
    `key` and `params` for the message catalog (ranking.sub_err.KEY), `text` in English for
    the API and the definition's errors."""

    field: str
    key: str
    text: str
    params: dict[str, Any] = dataclass_field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.field}: {self.text}" if self.field else self.text


def check_subscription(raw: Any, exporter_names: set[str], group_keys: set[str] | None,
                       from_definition: bool = False) -> list[str]:
    """Problems of one subscription, each as 'field: message'."""
    return [str(p) for p in problems(raw, exporter_names, group_keys)]


def problems(raw: Any, exporter_names: set[str], group_keys: set[str] | None) -> list[Problem]:
    """The checks of one subscription that need no database, as structured problems."""
    if not isinstance(raw, dict):
        return [Problem("(subscription)", "table", "expected a table")]
    out = [Problem(k, "unknown_key", f"unknown key (known: {', '.join(sorted(FIELDS))})")
           for k in raw if k not in FIELDS]
    key = raw.get("key")
    if not isinstance(key, str) or not KEY_RE.match(key):
        out.append(Problem("key", "key", "expected lower-case letters, digits, '-' or '_', "
                                         f"got {key!r}"))
    if not isinstance(raw.get("title"), str) or not raw["title"].strip():
        out.append(Problem("title", "required", "required"))
    exporter = raw.get("exporter")
    if exporter not in exporter_names:
        out.append(Problem("exporter", "exporter", f"unknown exporter {exporter!r} (known: "
                                                    f"{', '.join(sorted(exporter_names)) or 'none'})"))
    for name in ("group", "detail_group"):
        value = raw.get(name, "")
        if not isinstance(value, str):
            out.append(Problem(name, "group_type", "expected a peer group key"))
        elif value and group_keys is not None and value not in group_keys:
            out.append(Problem(name, "group", f"no peer group '{value}' (known: "
                                              f"{', '.join(sorted(group_keys))})", {"value": value}))
    if exporter == "ranking" and not raw.get("group"):
        out.append(Problem("group", "group_needed", "the ranking workbook needs a peer group"))
    rule = raw.get("period_rule", "last_closed")
    if not isinstance(rule, str) or not (rule in ("last_closed", "current")
                                         or rule.startswith("fixed:")):
        out.append(Problem("period_rule", "period_rule", f"{rule!r} is not last_closed, current "
                                                         "or fixed:<period code>"))
    elif rule.startswith("fixed:"):
        try:
            parse_period(rule[len("fixed:"):])
        except ValueError as exc:
            out.append(Problem("period_rule", "fixed_period", str(exc),
                               {"value": rule[len("fixed:"):]}))
    if raw.get("period_kind", "") not in PERIOD_KINDS:
        out.append(Problem("period_kind", "period_kind", f"{raw.get('period_kind')!r} is not one "
                                                         f"of {', '.join(k for k in PERIOD_KINDS if k)}"))
    cron = raw.get("cron")
    if not isinstance(cron, str) or not cron.strip():
        out.append(Problem("cron", "cron_required", "required (a cron rule such as "
                                                    "\"0 8 1-10 1,3,5,7,9,11 *\")"))
    else:
        try:
            make_trigger(cron, clock.tz().key)
            if len(cron.split()) != 5:
                raise ValueError("expected 5 fields: minute hour day month weekday")
        except ValueError as exc:
            out.append(Problem("cron", "cron", f"invalid cron rule {cron!r}: {exc}",
                               {"value": cron[:100]}))
    if raw.get("calendar", "any") not in CALENDARS:
        out.append(Problem("calendar", "calendar", f"{raw.get('calendar')!r} is not one of "
                                                   f"{', '.join(CALENDARS)}"))
    if "active" in raw and not isinstance(raw["active"], bool):
        out.append(Problem("active", "active", "expected true or false"))
    if not isinstance(raw.get("unit", ""), str):
        out.append(Problem("unit", "unit_type", "expected a unit code"))
    recipients = raw.get("recipients")
    if not isinstance(recipients, list) or not recipients:
        out.append(Problem("recipients", "recipients", "at least one recipient ({user = …}, "
                                                       "{role = …} or {email = …})"))
    else:
        for i, r in enumerate(recipients):
            out.extend(_check_recipient(r, f"recipients[{i}]"))
    return out


def _check_recipient(r: Any, where: str) -> list[Problem]:
    if not isinstance(r, dict):
        return [Problem(where, "recipient_table", "expected a table such as {user = \"leader\"}")]
    out = [Problem(f"{where}.{k}", "unknown_key", f"unknown key (known: "
                                                  f"{', '.join(sorted(RECIPIENT_KEYS))})")
           for k in r if k not in RECIPIENT_KEYS]
    kinds = [k for k in ("user", "email", "role") if k in r]
    if len(kinds) != 1:
        out.append(Problem(where, "recipient_one", "give exactly one of user, email, role"))
        return out
    kind, value = kinds[0], r[kinds[0]]
    if not isinstance(value, str) or not value.strip():
        out.append(Problem(f"{where}.{kind}", "text", "expected text"))
    elif kind == "email" and not EMAIL_RE.match(value):
        out.append(Problem(f"{where}.email", "email", f"'{value}' is not a mail address",
                           {"value": value}))
    elif kind == "role" and value not in ROLES:
        out.append(Problem(f"{where}.role", "role", f"'{value}' is not one of {', '.join(ROLES)}",
                           {"value": value}))
    if "detail_unit" in r and not isinstance(r["detail_unit"], str):
        out.append(Problem(f"{where}.detail_unit", "unit_type", "expected a unit code"))
    return out


async def _check_users(raw: dict[str, Any]) -> list[str]:
    return [str(p) for p in await database_problems(raw)]


async def database_problems(raw: dict[str, Any]) -> list[Problem]:
    """The checks against the database: users, units."""
    out = []
    for i, r in enumerate(raw.get("recipients") or []):
        if isinstance(r, dict) and isinstance(r.get("user"), str):
            if not await User.exists(username=r["user"], is_active=True):
                out.append(Problem(f"recipients[{i}].user", "user",
                                   f"no active user '{r['user']}'", {"value": r["user"]}))
        if isinstance(r, dict) and isinstance(r.get("detail_unit"), str) and r["detail_unit"]:
            if not await OrgUnit.exists(code=r["detail_unit"]):
                out.append(Problem(f"recipients[{i}].detail_unit", "unit",
                                   f"no org unit '{r['detail_unit']}'", {"value": r["detail_unit"]}))
    if raw.get("unit") and not await OrgUnit.exists(code=raw["unit"]):
        out.append(Problem("unit", "unit", f"no org unit '{raw['unit']}'", {"value": raw["unit"]}))
    return out


def _normalized(raw: dict[str, Any]) -> dict[str, Any]:
    return {"key": raw["key"], "title": raw["title"].strip(), "exporter": raw["exporter"],
            "group": raw.get("group", ""), "unit": raw.get("unit", ""),
            "period_rule": raw.get("period_rule", "last_closed"),
            "period_kind": raw.get("period_kind", ""), "cron": " ".join(raw["cron"].split()),
            "calendar": raw.get("calendar", "any"), "recipients": list(raw["recipients"]),
            "detail_group": raw.get("detail_group", ""), "active": raw.get("active", True)}


async def _group_keys() -> set[str] | None:
    from plugins.ranking.services import current_scheme

    _, scheme = await current_scheme(required=False)
    return {g.key for g in scheme.groups} if scheme else None


async def save(raw: dict[str, Any], origin: str = "admin",
               subscription_id: int | None = None) -> models.Subscription:
    """Create or update a subscription after checking every field."""
    errors = check_subscription(raw, set(all_exporters()), await _group_keys())
    if not errors:
        errors = await _check_users(raw)
    if errors:
        raise Invalid("subscription_invalid", "; ".join(errors), field=errors[0].split(":")[0],
                      details=errors)
    data = _normalized(raw)
    async with in_transaction():
        if subscription_id is not None:
            sub = await get(subscription_id)
            before = audit.snapshot(sub)
            if data["key"] != sub.key and await models.Subscription.exists(key=data["key"]):
                raise Invalid("subscription_invalid", f"key: '{data['key']}' is taken",
                              field="key")
            await models.Subscription.filter(id=sub.id).update(**data)
            sub = await get(sub.id)
            await audit.record("ranking.subscription.update", "ranking_subscription", sub.id,
                               before=before, after=audit.snapshot(sub))
            return sub
        if await models.Subscription.exists(key=data["key"]):
            raise Invalid("subscription_invalid", f"key: '{data['key']}' is taken", field="key")
        sub = await models.Subscription.create(origin=origin, **data)
        await audit.record("ranking.subscription.create", "ranking_subscription", sub.id,
                           after=audit.snapshot(sub))
        return sub


async def sync_from_definition(items: list[dict[str, Any]]) -> None:
    """Upsert the definition's subscriptions by key; ones it no longer lists are switched off."""
    keys = set()
    for raw in items:
        data = _normalized(raw)
        keys.add(data["key"])
        sub = await models.Subscription.get_or_none(key=data["key"])
        if sub is None:
            sub = await models.Subscription.create(origin="definition", **data)
            await audit.record("ranking.subscription.create", "ranking_subscription", sub.id,
                               after=audit.snapshot(sub), reason=audit.said("audit.said.assessment_definition"))
        else:
            before = audit.snapshot(sub)
            await models.Subscription.filter(id=sub.id).update(origin="definition", **data)
            sub = await get(sub.id)
            if audit.snapshot(sub) != before:
                await audit.record("ranking.subscription.update", "ranking_subscription", sub.id,
                                   before=before, after=audit.snapshot(sub),
                                   reason=audit.said("audit.said.assessment_definition"))
    gone = await models.Subscription.filter(origin="definition", active=True) \
        .exclude(key__in=list(keys) or [""])
    for sub in gone:
        await models.Subscription.filter(id=sub.id).update(active=False)
        await audit.record("ranking.subscription.deactivate", "ranking_subscription", sub.id,
                           before={"active": True}, after={"active": False},
                           reason=audit.said("ranking.said.left_definition"))


async def get(ident: int | str) -> models.Subscription:
    """By id or key."""
    sub = None
    if isinstance(ident, int) or str(ident).isdigit():
        sub = await models.Subscription.get_or_none(id=int(ident))
    if sub is None:
        sub = await models.Subscription.get_or_none(key=str(ident))
    if sub is None:
        raise NotFound("unknown_subscription", f"subscription: no subscription '{ident}'",
                       field="subscription")
    return sub


# -- when, for which period, to whom ---------------------------------------------------------
async def resolve_period(sub: models.Subscription, when: dt.datetime) -> str:
    rule = sub.period_rule
    if rule.startswith("fixed:"):
        code = rule[len("fixed:"):]
        if not await Period.exists(code=code):
            raise Invalid("unknown_period", f"period_rule: no period '{code}'", field="period_rule")
        return code
    qs = Period.all()
    if sub.period_kind:
        qs = qs.filter(kind=sub.period_kind)
    day = when.astimezone(clock.tz()).date()
    if rule == "last_closed":
        periods = await qs.filter(status="closed", end__lt=day)
        periods = periods or await qs.filter(status="closed")
        if not periods:
            raise Invalid("no_period", "period_rule: no closed period yet", field="period_rule")
        # The latest to end; of two ending together (2014H1, 2014Q2) the longer one.
        best = max(periods, key=lambda p: (p.end, p.end - p.start))
        return best.code
    periods = await qs.filter(start__lte=day, end__gte=day)
    if not periods:
        raise Invalid("no_period", f"period_rule: no period contains {day}", field="period_rule")
    return min(periods, key=lambda p: p.end - p.start).code


@dataclass
class Recipient:
    label: str
    address: str
    user: User | None = None
    detail_unit: str = ""
    problem: str = ""


async def resolve_recipients(sub: models.Subscription) -> list[Recipient]:
    out: list[Recipient] = []
    seen: set[str] = set()

    async def add_user(user: User, label: str) -> None:
        detail = ""
        if sub.detail_group and user.unit_id:
            unit = await OrgUnit.get_or_none(id=user.unit_id)
            if unit is not None and unit.level != "city":
                detail = unit.code
        problem = "" if user.email else f"user '{user.username}' has no mail address"
        if f"user:{user.username}" not in seen:
            seen.add(f"user:{user.username}")
            out.append(Recipient(label, user.email, user, detail, problem))

    for r in sub.recipients:
        if "user" in r:
            user = await User.get_or_none(username=r["user"], is_active=True)
            if user is None:
                out.append(Recipient(r["user"], "", None, "", f"no active user '{r['user']}'"))
            else:
                await add_user(user, user.username)
        elif "role" in r:
            for user in await User.filter(role=r["role"], is_active=True).order_by("username"):
                await add_user(user, user.username)
        elif "email" in r and f"email:{r['email']}" not in seen:
            seen.add(f"email:{r['email']}")
            out.append(Recipient(r["email"], r["email"], None, r.get("detail_unit", "")))
    return out


def trigger_of(sub: models.Subscription) -> Any:
    return make_trigger(sub.cron, clock.tz().key)


async def passes_calendar(sub: models.Subscription, when: dt.datetime,
                          cal: WorkCalendar | None = None) -> bool:
    """The working-day filter on top of the cron rule: the demo's "first working day of odd
    months" is cron `0 8 1-10 1,3,5,7,9,11 *` with calendar = "first_workday"."""
    if sub.calendar == "any":
        return True
    cal = cal or await WorkCalendar.load()
    day = when.astimezone(clock.tz()).date()
    if sub.calendar == "workday":
        return cal.is_workday(day)
    return cal.first_workday_of_month(day.year, day.month) == day


async def due_times(sub: models.Subscription, since: dt.datetime, until: dt.datetime,
                    cal: WorkCalendar | None = None) -> list[dt.datetime]:
    """Fire times in (since, until] that pass the working-day filter."""
    trigger = trigger_of(sub)
    out = []
    prev = None
    t = trigger.get_next_fire_time(None, since + dt.timedelta(seconds=1))
    while t is not None and t <= until:
        if await passes_calendar(sub, t, cal):
            out.append(t)
        prev = t
        t = trigger.get_next_fire_time(prev, t + dt.timedelta(seconds=1))
    return out


async def next_times(sub: models.Subscription, count: int = 3,
                     start: dt.datetime | None = None) -> list[dt.datetime]:
    """The next fire times (for the page and the dry-run), at most a year ahead."""
    start = start or clock.now()
    cal = await WorkCalendar.load()
    trigger = trigger_of(sub)
    out, prev = [], None
    t = trigger.get_next_fire_time(None, start)
    limit = start + dt.timedelta(days=400)
    while t is not None and t <= limit and len(out) < count:
        if await passes_calendar(sub, t, cal):
            out.append(t)
        prev = t
        t = trigger.get_next_fire_time(prev, t + dt.timedelta(seconds=1))
    return out


async def set_active(sub: models.Subscription, active: bool) -> None:
    await models.Subscription.filter(id=sub.id).update(active=active)
    await audit.record("ranking.subscription.update", "ranking_subscription", sub.id,
                       before={"active": sub.active}, after={"active": active})
