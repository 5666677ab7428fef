"""Appeals (申诉): the unit contests a standing measure; an admin upholds, reduces or withdraws it.

Rules (see plugins/accountability/README.md):
- only a unit officer whose unit subtree holds the record's unit may appeal;
- a record can be appealed while approved or already carried out (carrying out a measure
  does not take away the right to appeal, 申诉期间不停止执行), once per revision;
- the window is `appeal_window_days` working days (core.calendar) after the approval date,
  that day included;
- a decision needs a reason; `reduce` sets new, lower points, `withdraw` sets the record to
  withdrawn with 0 points; points of a measure carried out in a closed period do not change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from tortoise.transactions import in_transaction

from core import audit
from core.accounts import User
from core.calendar import WorkCalendar
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.orgs import OrgUnit
from core.scope import scope_for
from plugins.accountability.ladder import Ladder
from plugins.accountability.models import Appeal, Record
from plugins.accountability.services import (
    OBJECT,
    _points_arg,
    add_history,
    current_ladder,
    local_date,
    now,
    record_link,
    refuse_closed_date,
    tell,
    today,
    unit_officers,
    unit_sees,
)

EVIDENCE_TYPES = (".pdf", ".jpg", ".jpeg", ".png", ".doc", ".docx", ".xls", ".xlsx", ".zip",
                  ".txt", ".ofd")
DECISIONS = {"uphold": "upheld", "reduce": "reduced", "withdraw": "withdrawn"}
APPEALABLE = ("approved", "carried_out")


async def deadline(record: Record, window_days: int | None = None,
                   cal: WorkCalendar | None = None) -> dt.date | None:
    """Last day of the appeal window: N working days after the approval date."""
    if record.approved_at is None:
        return None
    if window_days is None:
        window_days = (await current_ladder()).appeal_window_days
    cal = cal or await WorkCalendar.load()
    return cal.add_working_days(local_date(record.approved_at), window_days)


async def can_appeal(record: Record, user: User, ladder: Ladder | None = None,
                     cal: WorkCalendar | None = None, lang: str | None = None) -> tuple[bool, str]:
    """Whether `user` may appeal `record` now, and why not (for pages and panels; in `lang`
    when given)."""
    try:
        await _check(record, user, ladder, cal)
    except (Conflict, Forbidden) as exc:
        return False, exc.text(lang) if lang else exc.message
    return True, ""


async def _check(record: Record, user: User, ladder: Ladder | None = None,
                 cal: WorkCalendar | None = None) -> dt.date:
    if user.role != "unit_officer":
        raise Forbidden("appeal_unit_only", "only an officer of the record's unit may appeal")
    scope = await scope_for(user)
    unit = record.unit if isinstance(record.unit, OrgUnit) else await record.unit
    if not scope.allows_unit_path(unit.path):
        own = await user.unit
        raise Forbidden("other_unit", f"record #{record.id} is not a record of your unit "
                                      f"{own.name if own else ''}: only the unit concerned may appeal")
    if record.status == "proposed" and record.prev_state:
        raise Conflict("under_review", f"record #{record.id} is under review (a higher measure "
                                       "is proposed); appeal after the decision", field="status")
    if record.status not in APPEALABLE:
        raise Conflict("not_appealable", f"record #{record.id} is {record.status}: only an approved "
                                         "or carried-out record can be appealed", field="status")
    existing = await Appeal.get_or_none(record=record, record_revision=record.revision)
    if existing is not None:
        raise Conflict("already_appealed", f"record #{record.id} was already appealed on "
                                           f"{local_date(existing.submitted_at).isoformat()} "
                                           f"(appeal #{existing.id}, {existing.status})",
                       params={"date": local_date(existing.submitted_at).isoformat(),
                               "appeal": existing.id})
    ladder = ladder or await current_ladder()
    last = await deadline(record, ladder.appeal_window_days, cal)
    if today() > last:
        raise Conflict("appeal_window_closed",
                       f"the appeal window of record #{record.id} closed on {last.isoformat()} "
                       f"({ladder.appeal_window_days} working days after the approval on "
                       f"{local_date(record.approved_at).isoformat()})", field="record",
                       params={"date": last.isoformat()})
    return last


async def submit(user: User, record_id: int, *, reasons: str, evidence_name: str,
                 evidence: bytes | None, evidence_dir: Path, max_bytes: int) -> Appeal:
    record = await Record.get_or_none(id=record_id).select_related("unit")
    if record is None or (user.role == "unit_officer" and not unit_sees(record)
                          and (await scope_for(user)).allows_unit_path(record.unit.path)):
        raise NotFound("not_found", f"accountability record #{record_id} does not exist")
    await _check(record, user)
    reasons = (reasons or "").strip()
    if not reasons:
        raise Invalid("reasons_required", "reasons: say why the measure should change",
                      field="reasons")
    if len(reasons) > 5000:
        raise Invalid("reasons_too_long", "reasons: at most 5000 characters", field="reasons")
    name = Path((evidence_name or "").replace("\\", "/")).name.strip()
    if not evidence or not name:
        raise Invalid("evidence_required", "evidence: attach a file with the evidence (证明材料)",
                      field="evidence")
    suffix = Path(name).suffix.lower()
    if suffix not in EVIDENCE_TYPES:
        raise Invalid("evidence_type", f"evidence: '{name}' is not one of "
                                       f"{', '.join(EVIDENCE_TYPES)}", field="evidence",
                      params={"name": name, "allowed": "、".join(EVIDENCE_TYPES)})
    if len(evidence) > max_bytes:
        raise Invalid("evidence_too_large", f"evidence: '{name}' is larger than "
                                            f"{max_bytes // (1024 * 1024)} MB", field="evidence")
    target_dir = evidence_dir / "accountability"
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"appeal-{record.id}-{uuid.uuid4().hex}{suffix}"
    target.write_bytes(evidence)
    try:
        async with in_transaction():
            appeal = await Appeal.create(
                record=record, record_revision=record.revision, submitted_by=user,
                reasons=reasons, evidence_name=name[:200], evidence_path=str(target),
                evidence_sha256=hashlib.sha256(evidence).hexdigest(), evidence_size=len(evidence),
                points_before=record.points)
            await add_history(record, "appealed", from_status=record.status,
                              from_measure=record.measure, from_points=record.points,
                              note=f"appeal #{appeal.id}: {reasons[:200]}", public=True)
            await audit.record("accountability.appeal", "accountability_appeal", appeal.id,
                               after=audit.snapshot(appeal))
    except Exception:
        target.unlink(missing_ok=True)  # nothing half-written: no file without its appeal
        raise
    await tell(await User.filter(role="admin", is_active=True),
               "accountability.notify.appealed_subject", "accountability.notify.appealed_body",
               key=f"accountability.appealed:{appeal.id}", link=record_link(record),
               measure=record.measure, unit=record.unit.name, record=record.id,
               reasons=reasons[:500])
    return appeal


async def decide(appeal_id: int, decision: str, reason: str, new_points: Any = None) -> Appeal:
    if decision not in DECISIONS:
        raise Invalid("bad_decision", f"decision: '{decision}' is not one of "
                                      f"{', '.join(DECISIONS)}", field="decision")
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("reason_required", "reason: a decision on an appeal needs a reason",
                      field="reason")
    async with in_transaction():
        appeal = await Appeal.get_or_none(id=appeal_id).select_related("record", "submitted_by")
        if appeal is None:
            raise NotFound("not_found", f"appeal #{appeal_id} does not exist")
        if appeal.status != "pending":
            raise Conflict("already_decided", f"appeal #{appeal.id} is already {appeal.status}",
                           field="status")
        record = await Record.get(id=appeal.record_id).select_related("unit")
        old = record.points
        if decision == "reduce":
            if new_points in (None, ""):
                raise Invalid("points_required", "new_points: give the reduced deduction points",
                              field="new_points")
            points = _points_arg(new_points, "new_points")
            if points >= old:
                raise Invalid("not_reduced", f"new_points: {points} is not less than the current "
                                             f"{old}", field="new_points")
        else:
            points = old if decision == "uphold" else Decimal("0.00")
        if points != old and record.carried_out_on:
            await refuse_closed_date(record.carried_out_on)
        updated = await Appeal.filter(id=appeal.id, status="pending").update(
            status=DECISIONS[decision], decided_by=audit.current_actor(), decided_at=now(),
            decision_reason=reason, points_after=points)
        if not updated:
            raise Conflict("already_decided", f"appeal #{appeal.id} is already decided")
        before = audit.snapshot(record)
        from_status, from_points = record.status, record.points
        record.points = points
        if decision == "withdraw":
            record.status, record.prev_state = "withdrawn", None
        await record.save()
        await add_history(record, f"appeal_{DECISIONS[decision]}", from_status=from_status,
                          from_measure=record.measure, from_points=from_points,
                          note=f"appeal #{appeal.id}: {reason}", public=True)
        await audit.record("accountability.appeal_decide", OBJECT, record.id, before=before,
                           after=audit.snapshot(record), reason=audit.said(
                               f"accountability.said.appeal_{DECISIONS[decision]}",
                               appeal=appeal.id, reason=reason))
        await appeal.refresh_from_db()
    users = {u.id: u for u in await unit_officers(record.unit_id)}
    users.setdefault(appeal.submitted_by_id, await User.get(id=appeal.submitted_by_id))
    await tell(list(users.values()), "accountability.notify.appeal_subject",
               f"accountability.notify.appeal_{DECISIONS[decision]}",
               key=f"accountability.appeal_decided:{appeal.id}", link=record_link(record),
               measure=record.measure, unit=record.unit.name, ref=record.trigger_ref,
               points=points, reason=reason, record=record.id)
    return appeal
