"""The API's typed bodies, so /schema describes each field and a malformed body is refused
naming it (400) before anything is written.

Fields the services check against the record or the ladder (a unit code, a measure, points,
a reason a step requires) are bounded here and judged there, answering 422 naming the field
as they always have. Points and dates travel as text ("2.00", "2026-03-01").
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import msgspec

Reason = Annotated[str, msgspec.Meta(max_length=2000)]
Name = Annotated[str, msgspec.Meta(max_length=100)]
# A number or its text: "1.005" is rounded half up to 1.01 by the service, which names the
# field when the text is no number.
Points = Annotated[str, msgspec.Meta(max_length=16)] | Annotated[float, msgspec.Meta(
    ge=-1e6, le=1e6)]
RecordStatus = Literal["proposed", "approved", "dismissed", "carried_out", "closed", "withdrawn"]
AppealStatus = Literal["pending", "upheld", "reduced", "withdrawn", "superseded"]


class _In(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class ManualIn(_In):
    """A measure recorded by hand; the only way to 移送纪检监察 (refer). `unit_code`,
    `measure`, `points` and `reason` are required."""
    unit_code: Annotated[str, msgspec.Meta(max_length=32)] = ""
    measure: Annotated[str, msgspec.Meta(max_length=16)] = ""  # remind, talk, circulate, …
    points: Points | None = None
    reason: Reason = ""
    responsible_person: Name = ""
    target: Literal["unit", "head"] = "unit"
    period: Annotated[str, msgspec.Meta(max_length=16)] = ""
    trigger_ref: Name = ""
    trigger_link: Annotated[str, msgspec.Meta(max_length=300)] = ""  # a path or http(s) address

    def as_args(self) -> dict[str, Any]:
        out = msgspec.structs.asdict(self)
        out["points"] = "" if self.points is None else str(self.points)
        return out


class ApproveIn(_In):
    responsible_person: Name | None = None  # replaces the proposed one
    points: Points | None = None  # replaces the ladder's points
    note: Reason = ""


class DismissIn(_In):
    reason: Reason = ""  # required


class CarryOutIn(_In):
    date: dt.date | None = None  # default today; never in the future nor a closed period
    notes: Reason = ""


class CloseIn(_In):
    note: Reason = ""


class DecideIn(_In):
    decision: Literal["uphold", "reduce", "withdraw"]
    reason: Reason = ""  # required
    new_points: Points | None = None  # for reduce: lower than the current points


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _points(value: Any) -> str | None:
    return None if value is None else str(value)


# The fields of a record's state: saved before an upgrade, restored when it is dismissed.
STATE_FIELDS = ("status", "measure", "points", "approved_at", "approved_by", "carried_out_on",
                "carried_out_by", "carried_out_notes", "closed_at", "responsible_person", "target")


class RecordOut(msgspec.Struct):
    """A record as the caller may see it. A unit officer gets the standing measure, never a
    proposal awaiting approval, and no `prev_state` nor `rule_index`."""
    id: int
    unit_code: str
    unit_name: str
    trigger_type: str  # overdue, verification_failed, bottom_ranking, manual
    trigger_ref: str
    trigger_title: str
    trigger_link: str
    trigger_detail: dict[str, Any]  # what the triggering event told, by trigger type
    period: str
    automatic: bool
    revision: int  # bumped by every upgrade; an appeal belongs to one
    repeat_of: int | None  # the earlier record that made this one a repeat
    reason: str
    link: str
    status: RecordStatus | None
    measure: str | None
    points: str | None  # deduction points, two decimals
    approved_at: str | None
    approved_by: str | None
    carried_out_on: str | None
    carried_out_by: str | None
    carried_out_notes: str | None
    closed_at: str | None
    responsible_person: str | None
    target: Literal["unit", "head"] | None
    prev_state: dict[str, Any] | None = None  # the standing state an upgrade replaced
    rule_index: int | None = None  # the ladder rule that proposed it

    @classmethod
    def of(cls, record: Any, state: dict[str, Any], link: str, internal: bool) -> RecordOut:
        """`state`: the record's state fields as the caller may see them, JSON-safe."""
        return cls(
            id=record.id, unit_code=record.unit.code, unit_name=record.unit.name,
            trigger_type=record.trigger_type, trigger_ref=record.trigger_ref,
            trigger_title=record.trigger_title, trigger_link=record.trigger_link,
            trigger_detail=record.trigger_detail, period=record.period,
            automatic=record.automatic, revision=record.revision, repeat_of=record.repeat_of,
            reason=record.reason if record.status != "proposed" else "", link=link,
            **{name: state.get(name) for name in STATE_FIELDS},
            prev_state=record.prev_state if internal else None,
            rule_index=record.rule_index if internal else None)


class HistoryOut(msgspec.Struct):
    at: str
    actor: str
    action: str  # proposed, upgraded, approved, appealed, …
    from_status: str
    to_status: str
    from_measure: str
    to_measure: str
    from_points: str | None
    to_points: str | None
    note: str
    event_key: str  # the domain event that caused the step, if one did

    @classmethod
    def of(cls, h: Any) -> HistoryOut:
        return cls(at=h.at.isoformat(), actor=h.actor, action=h.action,
                   from_status=h.from_status, to_status=h.to_status, from_measure=h.from_measure,
                   to_measure=h.to_measure, from_points=_points(h.from_points),
                   to_points=_points(h.to_points), note=h.note, event_key=h.event_key)


class AppealOut(msgspec.Struct):
    id: int
    record_id: int
    revision: int  # the record revision appealed
    submitted_by: int  # user id
    submitted_at: str
    reasons: str
    evidence_name: str
    evidence_size: int
    evidence_sha256: str
    status: AppealStatus
    decided_by: str
    decided_at: str | None
    decision_reason: str
    points_before: str | None
    points_after: str | None
    evidence_url: str  # empty without a file

    @classmethod
    def of(cls, a: Any) -> AppealOut:
        return cls(
            id=a.id, record_id=a.record_id, revision=a.record_revision,
            submitted_by=a.submitted_by_id, submitted_at=a.submitted_at.isoformat(),
            reasons=a.reasons, evidence_name=a.evidence_name, evidence_size=a.evidence_size,
            evidence_sha256=a.evidence_sha256, status=a.status, decided_by=a.decided_by,
            decided_at=_iso(a.decided_at), decision_reason=a.decision_reason,
            points_before=_points(a.points_before), points_after=_points(a.points_after),
            evidence_url=f"/api/accountability/appeals/{a.id}/evidence" if a.evidence_path
            else "")


class RecordDetailOut(RecordOut, kw_only=True):
    history: list[HistoryOut]  # the steps the caller may see
    appeals: list[AppealOut]
    appeal_deadline: str | None  # last day to appeal (approved records)
    can_appeal: bool | None = None  # for unit officers
    why_not: str | None = None  # why they may not, when they may not


class RuleOut(msgspec.Struct):
    index: int
    trigger: str
    threshold: int  # working days overdue, failed checks or bottom rankings in a row
    measure: str
    points: str
    target: Literal["unit", "head"]


class LadderOut(msgspec.Struct):
    appeal_window_days: int  # working days after the approval
    repeat_within_days: int
    points: dict[str, str]  # default points of each measure
    rules: list[RuleOut]

    @classmethod
    def of(cls, ladder: Any) -> LadderOut:
        return cls(appeal_window_days=ladder.appeal_window_days,
                   repeat_within_days=ladder.repeat_within_days,
                   points={m: str(p) for m, p in ladder.points.items()},
                   rules=[RuleOut(index=r.index, trigger=r.trigger, threshold=r.threshold,
                                  measure=r.measure, points=str(r.points), target=r.target)
                          for r in ladder.rules])
