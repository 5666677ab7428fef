"""Domain events → accountability proposals.

Every event is checked against its contract (docs/plugins.md, "Domain events") before
anything is written; an event naming a unit that does not exist is refused and changes
nothing. The core event store delivers each key to this plugin once, and commits the
delivery with what this handler wrote, so a replayed event changes nothing. One record per
trigger (`trigger_key`, unique): a later rung upgrades the open record and keeps its history;
two events of one trigger handled at once meet at that unique key, and the second looks again.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from core import audit, clock
from core.orgs import OrgUnit
from plugins.accountability import ladder as ladder_mod
from plugins.accountability.ladder import RANK, Ladder, Rule
from plugins.accountability.models import STANDING, Appeal, RankingSeen, Record
from plugins.accountability.services import (
    OBJECT,
    add_history,
    current_ladder,
    standing_state,
)

log = logging.getLogger("kaohe.accountability")

OVERDUE = "rectification.overdue"
FAILED = "rectification.verification_failed"
RANKING = "ranking.published"
NAMES = (OVERDUE, FAILED, RANKING)

TASK_FIELDS = {"task_id": int, "task_no": str, "title": str, "unit_code": str,
               "responsible_person": str, "period": str, "link": str}
OVERDUE_FIELDS = {**TASK_FIELDS, "deadline": str, "days_overdue": int, "threshold": int}
FAILED_FIELDS = {**TASK_FIELDS, "fail_count": int, "reason": str}
RANKING_FIELDS = {"ranking_id": int, "period": str, "group": str, "published_at": str,
                  "units": list, "bottom_n": int, "bottom": list, "top_n": int, "link": str}
PLACE_FIELDS = {"unit_code": str, "rank": int, "total": (int, float)}


class EventRefused(Exception):
    """The event breaks its contract or names what does not exist; nothing was written."""


@dataclass
class Proposal:
    unit: OrgUnit
    trigger_key: str
    trigger_type: str
    level: int
    rule: Rule
    occurred_at: dt.datetime
    event_key: str
    fields: dict[str, Any]  # responsible_person, trigger_ref, trigger_title, trigger_link, period
    detail: dict[str, Any]


def _result(event: Any, status: str, message: str = "", records: list[int] | None = None) -> dict:
    return {"plugin": "accountability", "event": event.name, "key": event.key, "status": status,
            "records": records or [], "message": message}


async def handle(event: Any) -> dict[str, Any] | None:
    """Entry point of the kaohe_event hook; returns what happened (None: not our event)."""
    if getattr(event, "name", None) not in NAMES:
        return None
    try:
        if not isinstance(getattr(event, "key", None), str) or not event.key.strip():
            raise EventRefused("key: the event has no key")
        payload = event.payload if isinstance(event.payload, dict) else None
        if payload is None:
            raise EventRefused("payload: expected an object")
        if event.name == RANKING:
            _check(payload, RANKING_FIELDS)
            units = await _ranking_units(payload)
        else:
            _check(payload, OVERDUE_FIELDS if event.name == OVERDUE else FAILED_FIELDS)
            units = await _task_unit(payload)
    except EventRefused as exc:
        message = f"{event.name} {getattr(event, 'key', '')!s}: refused: {exc}"
        log.warning(message)
        return _result(event, "refused", str(exc))
    for attempt in (1, 2):
        try:
            if event.name == RANKING:
                return await _ranking(event, payload, units)
            return await _task(event, payload, units[payload["unit_code"].strip()])
        except IntegrityError:
            # A record of the same trigger was created meanwhile (one record per trigger):
            # look again, once.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


# -- validation --------------------------------------------------------------------------

def _check(payload: dict[str, Any], spec: dict[str, Any], where: str = "payload") -> None:
    missing = [name for name in spec if name not in payload]
    if missing:
        raise EventRefused(f"{where}: missing required field(s) {', '.join(missing)}")
    for name, kind in spec.items():
        value = payload[name]
        if isinstance(value, bool) or not isinstance(value, kind):
            kinds = kind if isinstance(kind, tuple) else (kind,)
            raise EventRefused(f"{where}.{name}: expected {' or '.join(k.__name__ for k in kinds)}, "
                               f"got {value!r}")
    for name in ("task_id", "ranking_id"):
        if name in spec and payload[name] < 1:
            raise EventRefused(f"{where}.{name}: expected a positive id, got {payload[name]}")
    for name in ("unit_code", "task_no", "group"):
        if name in spec and not payload[name].strip():
            raise EventRefused(f"{where}.{name}: must not be empty")
    for name, low in (("days_overdue", 0), ("threshold", 1), ("fail_count", 1), ("bottom_n", 0)):
        if name in spec and payload[name] < low:
            raise EventRefused(f"{where}.{name}: expected at least {low}, got {payload[name]}")
    if "deadline" in spec:
        try:
            dt.date.fromisoformat(payload["deadline"])
        except ValueError:
            raise EventRefused(f"{where}.deadline: '{payload['deadline']}' is not yyyy-mm-dd") from None


async def _known_units(codes: list[str]) -> dict[str, OrgUnit]:
    found = {u.code: u for u in await OrgUnit.filter(code__in=list(set(codes)))}
    unknown = sorted(set(codes) - set(found))
    if unknown:
        raise EventRefused(f"unit_code: unknown org unit(s) {', '.join(unknown)} "
                           "(not in core org units)")
    return found


async def _task_unit(payload: dict[str, Any]) -> dict[str, OrgUnit]:
    return await _known_units([payload["unit_code"].strip()])


async def _ranking_units(payload: dict[str, Any]) -> dict[str, OrgUnit]:
    for list_name in ("units", "bottom"):
        for i, place in enumerate(payload[list_name]):
            if not isinstance(place, dict):
                raise EventRefused(f"payload.{list_name}[{i}]: expected an object")
            _check(place, PLACE_FIELDS, f"payload.{list_name}[{i}]")
    _published_at(payload)
    codes = [p["unit_code"] for p in payload["units"]] + [p["unit_code"] for p in payload["bottom"]]
    return await _known_units(codes)


def _published_at(payload: dict[str, Any]) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(payload["published_at"])
    except ValueError:
        raise EventRefused(f"payload.published_at: '{payload['published_at']}' is not an ISO "
                           "datetime") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=clock.tz())


# -- rectification tasks ----------------------------------------------------------------

async def _task(event: Any, payload: dict[str, Any], unit: OrgUnit) -> dict[str, Any]:
    ladder = await current_ladder()
    if event.name == OVERDUE:
        # The rung follows the working days actually overdue; the announcing threshold is a floor.
        trigger, level = "overdue", max(payload["days_overdue"], payload["threshold"])
        detail = {"deadline": payload["deadline"], "days_overdue": payload["days_overdue"]}
    else:
        trigger, level = "verification_failed", payload["fail_count"]
        detail = {"fail_count": payload["fail_count"], "fail_reason": payload["reason"]}
    detail.update(task_id=payload["task_id"], task_no=payload["task_no"])
    rule = ladder.rung(trigger, level)
    if rule is None:
        return _result(event, "no_rule", f"{trigger} {level}: no rule of the ladder applies")
    async with in_transaction():
        proposal = Proposal(
            unit=unit, trigger_key=f"task:{payload['task_id']}", trigger_type=trigger, level=level,
            rule=rule, occurred_at=_occurred(event), event_key=event.key,
            fields={"responsible_person": payload["responsible_person"].strip()[:100],
                    "trigger_ref": payload["task_no"].strip()[:100],
                    "trigger_title": payload["title"].strip()[:300],
                    "trigger_link": payload["link"].strip()[:300], "period": payload["period"][:16]},
            detail=detail)
        outcome, record = await propose(proposal, ladder)
    return _result(event, outcome, records=[record.id])


def _occurred(event: Any) -> dt.datetime:
    moment = getattr(event, "occurred_at", None) or clock.now()
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


# -- rankings ----------------------------------------------------------------------------

async def _ranking(event: Any, payload: dict[str, Any], units: dict[str, OrgUnit]) -> dict[str, Any]:
    ladder = await current_ladder()
    group, ranking_id = payload["group"].strip()[:64], payload["ranking_id"]
    published_at = _published_at(payload)
    bottom = {p["unit_code"] for p in payload["bottom"]}
    places = {p["unit_code"]: p for p in payload["units"]}
    for p in payload["bottom"]:
        places.setdefault(p["unit_code"], p)
    outcomes: list[str] = []
    records: list[int] = []
    async with in_transaction():
        # The remembered places are part of this event's effect (unique per ranking and unit).
        await RankingSeen.bulk_create([
            RankingSeen(ranking_id=ranking_id, ranking_group=group, period=payload["period"][:16],
                        published_at=published_at, unit_code=code, rank=p["rank"],
                        total=float(p["total"]), in_bottom=code in bottom,
                        link=payload["link"][:300])
            for code, p in places.items()])
        for code in sorted(bottom):
            streak = await _bottom_streak(group, code, published_at, ranking_id)
            rule = ladder.rung("bottom_ranking", len(streak))
            if rule is None:
                continue
            first = streak[-1]
            proposal = Proposal(
                unit=units[code], trigger_key=f"bottom:{group}:{code}:{first.ranking_id}",
                trigger_type="bottom_ranking", level=len(streak), rule=rule,
                occurred_at=published_at, event_key=event.key,
                fields={"responsible_person": "", "trigger_ref": ", ".join(
                            f"#{s.ranking_id}" for s in reversed(streak))[:100],
                        "trigger_title": f"{payload.get('group_name') or group}："
                                         f"连续{len(streak)}次末位"[:300],
                        "trigger_link": payload["link"][:300], "period": payload["period"][:16]},
                detail={"group": group, "group_name": payload.get("group_name") or group,
                        "streak": len(streak), "rankings": [
                    {"ranking_id": s.ranking_id, "period": s.period, "rank": s.rank,
                     "total": s.total, "link": s.link} for s in reversed(streak)]})
            outcome, record = await propose(proposal, ladder)
            outcomes.append(outcome)
            records.append(record.id)
    status = ("created" if "created" in outcomes else "upgraded" if "upgraded" in outcomes
              else "unchanged" if outcomes else "no_rule")
    return _result(event, status, records=records)


async def _bottom_streak(group: str, unit_code: str, published_at: dt.datetime,
                         ranking_id: int) -> list[RankingSeen]:
    """The unit's latest run of bottom places in the group, newest first, up to this ranking."""
    # Compared in Python: SQLite compares stored datetimes as text, whatever their offsets.
    rows = [r for r in await RankingSeen.filter(ranking_group=group, unit_code=unit_code)
            if (r.published_at, r.ranking_id) <= (published_at, ranking_id)]
    rows.sort(key=lambda r: (r.published_at, r.ranking_id), reverse=True)
    streak = []
    for row in rows:
        if not row.in_bottom:
            break
        streak.append(row)
    return streak


# -- proposing ---------------------------------------------------------------------------

async def propose(p: Proposal, ladder: Ladder) -> tuple[str, Record]:
    """Create the trigger's record, or upgrade it when the rung is higher; inside a transaction."""
    measure, points, repeat_of = p.rule.measure, p.rule.points, None
    record = await Record.get_or_none(trigger_key=p.trigger_key)
    repeat = await _repeat_of(p, measure, ladder)
    if repeat is not None:
        raised = ladder_mod.next_measure(measure)
        if raised != measure:
            measure, points, repeat_of = raised, ladder.points_for(raised, points), repeat.id
    note = _note(p, measure, repeat_of, ladder.repeat_within_days)
    if record is None:
        record = await Record.create(
            unit=p.unit, target=p.rule.target, trigger_key=p.trigger_key,
            trigger_type=p.trigger_type, trigger_detail=p.detail, measure=measure, points=points,
            rule_index=p.rule.index, repeat_of=repeat_of, automatic=True, status="proposed",
            **p.fields)
        await add_history(record, "proposed", note=note, event_key=p.event_key)
        await audit.record("accountability.propose", OBJECT, record.id,
                           after=audit.snapshot(record), reason=note)
        return "created", record
    if RANK[measure] <= RANK[record.measure]:
        # Not higher: nothing to propose (a dismissed or withdrawn measure is not proposed again).
        return "unchanged", record
    before = audit.snapshot(record)
    from_status, from_measure, from_points = record.status, record.measure, record.points
    if record.status in STANDING:
        record.prev_state = standing_state(record)
    elif record.status in ("dismissed", "withdrawn"):
        record.prev_state = None
    record.status, record.measure, record.points = "proposed", measure, points
    record.rule_index, record.repeat_of, record.target = p.rule.index, repeat_of, p.rule.target
    record.trigger_type = p.trigger_type
    record.trigger_detail = {**(record.trigger_detail or {}), **p.detail}
    record.approved_at, record.approved_by = None, ""
    record.carried_out_on, record.carried_out_by, record.carried_out_notes = None, "", ""
    record.closed_at = None
    record.revision += 1
    if p.fields.get("responsible_person"):
        record.responsible_person = p.fields["responsible_person"]
    record.trigger_link = p.fields.get("trigger_link") or record.trigger_link
    if p.trigger_type == "bottom_ranking":
        record.trigger_ref, record.trigger_title = p.fields["trigger_ref"], p.fields["trigger_title"]
    await record.save()
    # An appeal against the replaced measure is overtaken by the upgrade.
    await Appeal.filter(record=record, status="pending").update(
        status="superseded", decision_reason=f"superseded by the upgrade to {measure}")
    await add_history(record, "upgraded", from_status=from_status, from_measure=from_measure,
                      from_points=Decimal(str(from_points)), note=note, event_key=p.event_key)
    await audit.record("accountability.upgrade", OBJECT, record.id, before=before,
                       after=audit.snapshot(record), reason=note)
    return "upgraded", record


async def _repeat_of(p: Proposal, measure: str, ladder: Ladder) -> Record | None:
    """A standing record of the same unit, same or higher measure, within the repeat window."""
    if not ladder.repeat_within_days:
        return None
    since = p.occurred_at - dt.timedelta(days=ladder.repeat_within_days)
    rows = [r for r in await Record.filter(unit_id=p.unit.id, status__in=STANDING)
            if r.approved_at and since <= r.approved_at <= p.occurred_at]
    rows.sort(key=lambda r: r.approved_at, reverse=True)
    for row in rows:
        if row.trigger_key != p.trigger_key and RANK[row.measure] >= RANK[measure]:
            return row
    return None


def _note(p: Proposal, measure: str, repeat_of: int | None, days: int) -> str:
    what = {"overdue": f"overdue {p.level} working day(s)",
            "verification_failed": f"verification failed {p.level} time(s)",
            "bottom_ranking": f"bottom place in {p.level} published ranking(s) in a row"}[p.trigger_type]
    note = f"{what}: rule accountability.rules[{p.rule.index}] → {p.rule.measure}"
    if repeat_of is not None:
        note += f"; repeated within {days} days of record #{repeat_of} → {measure}"
    return note
