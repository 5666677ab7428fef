"""The API's typed bodies, so /schema describes each field and a malformed body (a wrong type,
a text beyond its column, an unknown field) is refused naming it (400) before anything runs.

Fields the services judge against the scheme, the peer group or the record (a unit in the
group, a value in its range, an objection decision, a cron rule) are bounded here and checked
there, answering 404/409/422 naming the field as they always have. Scores travel as text
("87.50"), as stored.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

import msgspec

from plugins.ranking import models, rankings

Period = Annotated[str, msgspec.Meta(max_length=16)]
GroupKey = Annotated[str, msgspec.Meta(max_length=48)]
UnitCode = Annotated[str, msgspec.Meta(max_length=32)]
IndicatorKey = Annotated[str, msgspec.Meta(max_length=48)]
Reason = Annotated[str, msgspec.Meta(max_length=2000)]
UserName = Annotated[str, msgspec.Meta(max_length=100)]
# A value as a number or as the text a sheet holds ("８５．５", "1,234"); the cell parser reads
# it against the indicator's range and places. None (or "") clears the value.
RawValue = (Annotated[int, msgspec.Meta(ge=-10**15, le=10**15)]
            | Annotated[float, msgspec.Meta(ge=-1e15, le=1e15)]
            | Annotated[str, msgspec.Meta(max_length=32)] | None)
MAX_VALUES = 100_000  # a whole upload: 1,500 units × 40 indicators fits with room


class _In(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class ValueIn(_In):
    unit: UnitCode  # org unit code, a member of the peer group
    indicator: IndicatorKey  # an indicator entered by hand (source manual or import)
    value: RawValue = None


class ValuesIn(_In):
    """All or nothing: one refused value saves none (422, each one named in `details`)."""
    period: Period
    group: GroupKey
    values: Annotated[list[ValueIn], msgspec.Meta(max_length=MAX_VALUES)]


class ComputeIn(_In):
    period: Period
    group: GroupKey


class ReviseIn(_In):
    reason: Reason = ""


class ObjectionIn(_In):
    """`unit` and `reason` are required; `indicator` names the disputed one."""
    unit: UnitCode = ""
    reason: Reason = ""
    indicator: IndicatorKey = ""


class ResolveIn(_In):
    """`decision` is upheld or rejected; `response` (the reason) is required."""
    decision: Annotated[str, msgspec.Meta(max_length=16)] = ""
    response: Reason = ""


class RecipientIn(_In, omit_defaults=True):
    """Exactly one of `user`, `email`, `role`; `detail_unit` adds that unit's detail."""
    user: UserName | None = None
    email: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    role: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    detail_unit: UnitCode | None = None


class SubscriptionIn(_In):
    """`key`, `title`, `exporter`, `cron` and one recipient at least are required; the cron
    rule, exporter, groups and recipients are checked by the subscription rules."""
    key: Annotated[str, msgspec.Meta(max_length=64)] = ""
    title: Annotated[str, msgspec.Meta(max_length=200)] = ""
    exporter: Annotated[str, msgspec.Meta(max_length=100)] = ""
    group: GroupKey = ""
    unit: UnitCode = ""
    period_rule: Annotated[str, msgspec.Meta(max_length=32)] = "last_closed"  # or fixed:CODE
    period_kind: Annotated[str, msgspec.Meta(max_length=8)] = ""  # year, half, quarter, month
    cron: Annotated[str, msgspec.Meta(max_length=100)] = ""
    calendar: Annotated[str, msgspec.Meta(max_length=16)] = "any"  # workday, first_workday
    recipients: Annotated[list[RecipientIn], msgspec.Meta(max_length=200)] = []
    detail_group: GroupKey = ""
    active: bool = True

    def as_raw(self) -> dict[str, Any]:
        """The subscription as its rules read it (a recipient keeps only the keys given)."""
        return msgspec.to_builtins(self) | {
            "recipients": [msgspec.to_builtins(r) for r in self.recipients]}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _text(value: Any) -> str | None:
    return str(value) if value is not None else None


def f2(text: Any) -> str:
    """A stored score ("87.5") as shown and served: two decimals ("87.50"); "" when none."""
    if text is None or text == "":
        return ""
    return str(Decimal(str(text)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


# -- the scheme ---------------------------------------------------------------------------------

class GroupDoc(msgspec.Struct):
    key: str
    name: str
    level: str  # the org level of the peers
    within: str = ""  # unit code whose subtree holds the peers; "" = every unit of the level


class IndicatorDoc(msgspec.Struct):
    key: str
    name: str
    unit: str  # of the value: 分, %, 次
    direction: str  # higher, lower
    source: str  # manual, import, plugin:NAME
    method: str  # ratio, minmax, bands, deduct
    weight: str  # within its aspect (they add up to 100)
    target: str | None = None
    bands: list[list[str | None]] = []  # [threshold, score], best threshold first
    points: str | None = None
    max_deduction: str | None = None
    range: list[str | None] = []  # [min, max] of an entered value
    integer: bool = False
    core: bool = False
    note: str = ""


class AspectDoc(msgspec.Struct):
    key: str
    name: str
    weight: str  # of the total (they add up to 100)
    indicators: list[IndicatorDoc]


class SchemeDoc(msgspec.Struct):
    """The [ranking] section as applied and stored, numbers as text."""
    missing: str  # zero, exclude
    top_n: int
    bottom_n: int
    objection_days: int
    groups: list[GroupDoc]
    aspects: list[AspectDoc]


class SchemeOut(msgspec.Struct):
    definition: str
    definition_version: int
    sha256: str
    scheme: SchemeDoc

    @classmethod
    def of(cls, row: models.Scheme) -> SchemeOut:
        return cls(definition=row.slug, definition_version=row.definition_version,
                   sha256=row.sha256, scheme=msgspec.convert(row.data, SchemeDoc))


# -- values -------------------------------------------------------------------------------------

class ValueOut(msgspec.Struct):
    unit: str
    indicator: str
    value: str
    origin: str  # grid, upload, api, cli, demo
    updated_by: str
    updated_at: str | None


class ValuesOut(msgspec.Struct):
    period: str
    group: str
    values: list[ValueOut]


class SetValuesOut(msgspec.Struct):
    created: int
    updated: int
    deleted: int
    unchanged: int


class MissingIndicatorOut(msgspec.Struct):
    key: str
    name: str
    source: str


class MissingUnitOut(msgspec.Struct):
    unit_code: str
    unit_name: str
    indicators: list[MissingIndicatorOut]


class MissingOut(msgspec.Struct):
    period: str
    group: str
    policy: str  # the definition's missing-value policy: zero, exclude
    units: int  # units of the group
    missing_values: int
    missing: list[MissingUnitOut]


# -- rankings -----------------------------------------------------------------------------------

class RankingOut(msgspec.Struct):
    id: int
    period: str
    group: str
    revision: int
    status: str  # draft, objection, final, superseded
    definition: str
    definition_version: int
    missing_policy: str
    top_n: int
    bottom_n: int
    units: int
    excluded: int
    inputs_sha256: str
    results_sha256: str
    previous_period: str
    computed_at: str | None
    published_at: str | None
    published_by: str
    objection_until: str | None
    superseded_by: int | None
    link: str

    @classmethod
    def of(cls, r: models.Ranking) -> RankingOut:
        return cls(**_ranking_fields(r))


def _ranking_fields(r: models.Ranking) -> dict[str, Any]:
    return {"id": r.id, "period": r.period, "group": r.group, "revision": r.revision,
            "status": r.status, "definition": r.definition_slug,
            "definition_version": r.definition_version, "missing_policy": r.missing_policy,
            "top_n": r.top_n, "bottom_n": r.bottom_n, "units": r.unit_count,
            "excluded": r.excluded_count, "inputs_sha256": r.inputs_sha256,
            "results_sha256": r.results_sha256, "previous_period": r.previous_period,
            "computed_at": _iso(r.computed_at), "published_at": _iso(r.published_at),
            "published_by": r.published_by, "objection_until": _iso(r.objection_until),
            "superseded_by": r.superseded_by, "link": rankings.link(r.id)}


class RowOut(msgspec.Struct):
    unit_code: str
    unit_name: str
    rank: int | None
    total: str | None
    prev_rank: int | None
    rank_change: int | None  # places gained since the previous period
    prev_total: str | None
    flag: str  # top, bottom or ""
    excluded: bool
    missing: list[str]  # indicator keys without a value
    aspects: dict[str, str | None]  # aspect key → score

    @classmethod
    def of(cls, r: models.RankingRow) -> RowOut:
        change = None if r.rank is None or r.prev_rank is None else r.prev_rank - r.rank
        return cls(unit_code=r.unit_code, unit_name=r.unit_name, rank=r.rank,
                   total=_text(r.total), prev_rank=r.prev_rank, rank_change=change,
                   prev_total=_text(r.prev_total), flag=r.flag, excluded=r.excluded,
                   missing=list(r.missing or []),
                   aspects={k: f2(v) or None for k, v in r.aspects.items()})


class RankingDetailOut(RankingOut):
    rows: list[RowOut]

    @classmethod
    def build(cls, r: models.Ranking, rows: list[models.RankingRow]) -> RankingDetailOut:
        return cls(**_ranking_fields(r), rows=[RowOut.of(x) for x in rows])


class IndicatorScoreOut(msgspec.Struct):
    key: str
    name: str
    unit: str
    core: bool
    weight: str
    method: str
    method_text: str  # the scoring rule in words
    source: str
    source_label: str
    value: str | None  # the frozen input
    sha256: str | None  # of the frozen input
    score: str | None
    entered_by: str
    origin: str
    contribution: str | None  # points of the total


class AspectScoreOut(msgspec.Struct):
    key: str
    name: str
    weight: str
    score: str | None
    indicators: list[IndicatorScoreOut]


class DrilldownOut(msgspec.Struct):
    ranking: RankingOut
    unit: RowOut
    aspects: list[AspectScoreOut]


class TamperedOut(msgspec.Struct):
    unit_code: str
    indicator: str
    stored: str | None


class ResultDiffOut(msgspec.Struct):
    unit_code: str
    stored_rank: int | None
    rank: int | None
    stored_total: str | None
    total: str | None
    unit_name: str = ""


class InputChangeOut(msgspec.Struct):
    unit_code: str
    indicator: str  # "" when the unit itself is gone
    change: str  # value, unit_removed
    unit_name: str = ""
    name: str = ""
    source: str = ""
    frozen: str | None = None
    current: str | None = None


class VerifyOut(msgspec.Struct):
    ranking_id: int
    period: str
    group: str
    status: str
    definition_version: int
    inputs_sha256: str
    results_sha256: str
    frozen_inputs_intact: bool
    tampered_inputs: list[TamperedOut]
    reproduced: bool
    result_differences: list[ResultDiffOut]
    inputs_unchanged: bool
    changed_inputs: list[InputChangeOut]
    results_with_current_inputs: list[ResultDiffOut]
    identical: bool


class ObjectionOut(msgspec.Struct):
    id: int
    ranking_id: int
    unit_code: str
    indicator: str
    reason: str
    filed_by: str
    filed_at: str
    status: str  # open, upheld, rejected
    response: str
    resolved_by: str

    @classmethod
    def of(cls, o: models.Objection) -> ObjectionOut:
        return cls(id=o.id, ranking_id=o.ranking_id, unit_code=o.unit_code,
                   indicator=o.indicator, reason=o.reason, filed_by=o.filed_by,
                   filed_at=o.filed_at.isoformat(), status=o.status, response=o.response,
                   resolved_by=o.resolved_by)


# -- report subscriptions -----------------------------------------------------------------------

class RecipientOut(msgspec.Struct, omit_defaults=True):
    user: str | None = None
    email: str | None = None
    role: str | None = None
    detail_unit: str | None = None


class SubscriptionOut(msgspec.Struct):
    id: int
    key: str
    title: str
    exporter: str
    group: str
    unit: str
    period_rule: str
    period_kind: str
    cron: str
    calendar: str
    recipients: list[RecipientOut]
    detail_group: str
    origin: str  # admin, definition
    active: bool

    @classmethod
    def of(cls, s: models.Subscription) -> SubscriptionOut:
        return cls(id=s.id, key=s.key, title=s.title, exporter=s.exporter, group=s.group,
                   unit=s.unit, period_rule=s.period_rule, period_kind=s.period_kind,
                   cron=s.cron, calendar=s.calendar,
                   recipients=msgspec.convert(s.recipients or [], list[RecipientOut]),
                   detail_group=s.detail_group, origin=s.origin, active=s.active)


class DeliveryOut(msgspec.Struct):
    recipient: str
    address: str
    state: str  # queued, sent, retrying, failed, skipped
    attempts: int
    error: str
    reports: list[int]  # archived report ids
    sent_at: str | None

    @classmethod
    def of(cls, d: models.Delivery) -> DeliveryOut:
        return cls(recipient=d.recipient, address=d.address, state=d.state,
                   attempts=d.attempts, error=d.last_error, reports=list(d.report_ids or []),
                   sent_at=_iso(d.sent_at))


class FiringOut(msgspec.Struct):
    id: int
    scheduled_for: str
    manual: bool
    period: str
    status: str  # running, ok, partial, failed
    error: str
    reports: list[int]
    deliveries: list[DeliveryOut]

    @classmethod
    def of(cls, f: models.Firing, deliveries: list[models.Delivery]) -> FiringOut:
        return cls(id=f.id, scheduled_for=f.scheduled_for.isoformat(), manual=f.manual,
                   period=f.period, status=f.status, error=f.error,
                   reports=list(f.report_ids or []),
                   deliveries=[DeliveryOut.of(d) for d in deliveries])


class DryRecipientOut(msgspec.Struct):
    recipient: str
    address: str
    problem: str
    files: list[str]


class DryRunOut(msgspec.Struct):
    subscription: str
    title: str
    exporter: str
    cron: str
    calendar: str
    next: list[str]  # the next due times, local
    period: str
    problem: str
    files: list[str]
    recipients: list[DryRecipientOut]
