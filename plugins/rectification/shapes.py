"""The API's typed bodies, so /schema describes each field and a malformed body is refused
naming it (400) before the workflow runs.

Request fields the workflow checks against the task (a reason a step requires, a deadline
against the registration day) stay optional here: the workflow checks role, scope, period,
version and state first, and answers 403/409/422 naming the field as it always has.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import msgspec

Text64 = Annotated[str, msgspec.Meta(max_length=64)]
Text200 = Annotated[str, msgspec.Meta(max_length=200)]
Reason = Annotated[str, msgspec.Meta(max_length=2000)]
Version = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
EvidenceIds = Annotated[list[Annotated[int, msgspec.Meta(ge=1, le=2**53 - 1)]],
                        msgspec.Meta(max_length=50)]
Severity = Literal["urgent", "serious", "general"]
Status = Literal["registered", "assessed", "rejected", "dispatched", "responded", "closed",
                 "evaluated"]


class _In(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    def as_data(self) -> dict[str, Any]:
        """The body as the workflow reads it (absent fields as None)."""
        return msgspec.structs.asdict(self)


class TaskIn(_In):
    """Step 1 信息收集. Source and category are checked against the current definition."""
    period: Annotated[str, msgspec.Meta(max_length=16)] | None = None
    source: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    category: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    severity: Severity | None = None
    unit: Annotated[str, msgspec.Meta(max_length=32)] | None = None  # org unit code
    title: Text200 | None = None
    description: Annotated[str, msgspec.Meta(max_length=10000)] | None = None
    responsible_person: Text64 | None = None
    reason: Reason | None = None


class _Step(_In):
    version: Version  # the task version you saw (optimistic concurrency)
    reason: Reason | None = None


class AssessIn(_Step):
    """The fields sent replace the registered ones."""
    title: Text200 | None = None
    description: Annotated[str, msgspec.Meta(max_length=10000)] | None = None
    source: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    category: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    severity: Severity | None = None
    unit: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    responsible_person: Text64 | None = None


class RejectIn(_Step):
    """`reason` is required."""


class DispatchIn(_Step):
    """Without `deadline` the definition's table sets it; a hand-set one needs a `reason`."""
    responsible_person: Text64 | None = None
    deadline: dt.date | None = None


class DeadlineIn(_Step):
    """`deadline` and `reason` are required."""
    deadline: dt.date | None = None


class RespondIn(_Step):
    """`note` is required; `evidence` names files uploaded before."""
    note: Annotated[str, msgspec.Meta(max_length=5000)] | None = None
    evidence: EvidenceIds | None = None


class ExtensionIn(_Step):
    """`reason` and `requested_deadline` are required."""
    requested_deadline: dt.date | None = None
    evidence: EvidenceIds | None = None


class DecideExtensionIn(_Step):
    """A refusal needs a `reason`; `granted_deadline` defaults to the requested one."""
    approve: bool | None = None  # required
    granted_deadline: dt.date | None = None


class VerifyIn(_Step):
    """A failed check needs a `reason`; `deadline` as in dispatch."""
    passed: bool | None = None  # required
    deadline: dt.date | None = None


class EvaluateIn(_Step):
    satisfaction: Annotated[int, msgspec.Meta(ge=0, le=100)] | None = None  # required
    comment: Reason | None = None


STEP_BODIES: dict[str, type[_Step]] = {
    "assess": AssessIn, "reject": RejectIn, "dispatch": DispatchIn, "set_deadline": DeadlineIn,
    "respond": RespondIn, "request_extension": ExtensionIn,
    "decide_extension": DecideExtensionIn, "verify": VerifyIn, "evaluate": EvaluateIn,
}


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class TaskOut(msgspec.Struct):
    id: int
    number: str
    period: str
    source: str
    category: str
    title: str
    description: str
    severity: str
    unit: str  # org unit code
    unit_name: str
    responsible_person: str
    status: Status
    registered_at: str
    dispatched_at: str | None
    deadline: str | None
    deadline_manual: bool
    overdue: bool
    overdue_since: str | None
    overdue_level: int  # highest overdue threshold (working days) announced
    fail_count: int  # failed verifications
    extension_count: int
    closed_late: bool
    closed_at: str | None
    days_to_close: int | None  # working days from dispatch to closure
    satisfaction: int | None  # 0–100
    evaluation_comment: str
    version: int

    @classmethod
    def of(cls, task: Any) -> TaskOut:
        """From a Task with its unit and period loaded."""
        return cls(**_task_fields(task))


def _task_fields(task: Any) -> dict[str, Any]:
    return {
        "id": task.id, "number": task.number, "period": task.period.code,
        "source": task.source, "category": task.category, "title": task.title,
        "description": task.description, "severity": task.severity, "unit": task.unit.code,
        "unit_name": task.unit.name, "responsible_person": task.responsible_person,
        "status": task.status, "registered_at": task.registered_at.isoformat(),
        "dispatched_at": _iso(task.dispatched_at), "deadline": _iso(task.deadline),
        "deadline_manual": task.deadline_manual, "overdue": task.overdue,
        "overdue_since": _iso(task.overdue_since), "overdue_level": task.overdue_level,
        "fail_count": task.fail_count, "extension_count": task.extension_count,
        "closed_late": task.closed_late, "closed_at": _iso(task.closed_at),
        "days_to_close": task.days_to_close, "satisfaction": task.satisfaction,
        "evaluation_comment": task.evaluation_comment, "version": task.version}


class TaskRowOut(msgspec.Struct):
    """One task of the list (the names are those the list has always answered)."""
    id: int
    number: str
    title: str
    source: str
    category: str
    severity: str
    status: Status
    unit_id: int
    unit__code: str
    unit__name: str
    unit__path: str
    responsible_person: str
    registered_at: str
    dispatched_at: str | None
    deadline: str | None
    overdue: bool
    overdue_level: int
    fail_count: int
    extension_count: int
    responded_at: str | None
    closed_at: str | None
    closed_late: bool
    days_to_close: int | None
    satisfaction: int | None
    period__code: str
    days_overdue: int  # working days past the deadline
    late: bool  # closed late, or open past the deadline

    @classmethod
    def of(cls, task: Any, days_overdue: int) -> TaskRowOut:
        return cls(
            id=task.id, number=task.number, title=task.title, source=task.source,
            category=task.category, severity=task.severity, status=task.status,
            unit_id=task.unit_id, unit__code=task.unit.code, unit__name=task.unit.name,
            unit__path=task.unit.path, responsible_person=task.responsible_person,
            registered_at=task.registered_at.isoformat(), dispatched_at=_iso(task.dispatched_at),
            deadline=_iso(task.deadline), overdue=task.overdue,
            overdue_level=task.overdue_level, fail_count=task.fail_count,
            extension_count=task.extension_count, responded_at=_iso(task.responded_at),
            closed_at=_iso(task.closed_at), closed_late=task.closed_late,
            days_to_close=task.days_to_close, satisfaction=task.satisfaction,
            period__code=task.period.code, days_overdue=days_overdue,
            late=bool(task.closed_late or (task.status == "dispatched" and task.overdue)))


EventData = dict[str, str | int | bool | list[int] | None]


class EventOut(msgspec.Struct):
    at: str
    actor: str
    action: str
    from_: str = msgspec.field(name="from")  # status before ("" for the registration)
    to: str = ""
    reason: str = ""
    data: EventData = {}

    @classmethod
    def of(cls, e: Any) -> EventOut:
        return cls(at=e.at.isoformat(), actor=e.actor, action=e.action, from_=e.from_status,
                   to=e.to_status, reason=e.reason, data=e.data)


class EvidenceOut(msgspec.Struct):
    id: int
    name: str
    size: int  # bytes
    sha256: str


class AttachedEvidenceOut(EvidenceOut):
    round: int  # the response round (failed verifications before it)
    attached: bool
    extension_id: int | None
    uploaded_by: str
    url: str

    @classmethod
    def of(cls, f: Any) -> AttachedEvidenceOut:
        return cls(id=f.id, name=f.original_name, size=f.size, sha256=f.sha256, round=f.round,
                   attached=f.attached, extension_id=f.extension_id, uploaded_by=f.uploaded_by,
                   url=f"/rectification/evidence/{f.id}")


class ExtensionOut(msgspec.Struct):
    id: int
    status: Literal["pending", "approved", "rejected"]
    reason: str
    requested_deadline: str
    granted_deadline: str | None
    requested_by: str
    decided_by: str
    decision_reason: str

    @classmethod
    def of(cls, x: Any) -> ExtensionOut:
        return cls(id=x.id, status=x.status, reason=x.reason,
                   requested_deadline=x.requested_deadline.isoformat(),
                   granted_deadline=_iso(x.granted_deadline), requested_by=x.requested_by,
                   decided_by=x.decided_by, decision_reason=x.decision_reason)


class TaskDetailOut(TaskOut):
    allowed: list[str]  # the caller's next steps: assess, reject, dispatch, …
    events: list[EventOut]
    evidence: list[AttachedEvidenceOut]
    extensions: list[ExtensionOut]

    @classmethod
    def build(cls, task: Any, allowed: list[str], events: list[Any], files: list[Any],
              exts: list[Any]) -> TaskDetailOut:
        return cls(**_task_fields(task), allowed=allowed,
                   events=[EventOut.of(e) for e in events],
                   evidence=[AttachedEvidenceOut.of(f) for f in files],
                   extensions=[ExtensionOut.of(x) for x in exts])


class UnitSummaryOut(msgspec.Struct):
    unit_code: str
    unit_name: str
    received: int
    closed_on_time: int
    closed_late: int
    open: int
    overdue: int
    on_time_rate: float | None  # in points (95.5 means 95.5 %); none when nothing is due


class SummaryOut(msgspec.Struct):
    units: list[UnitSummaryOut]
    total: UnitSummaryOut
