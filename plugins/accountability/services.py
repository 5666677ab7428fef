"""Accountability records: the lifecycle proposed → approved → carried out → closed, queries.

No web imports: routes, jobs, exporters and event handlers all call these functions.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from core import audit, clock, i18n, unit_picker
from core.accounts import User
from core.assessments import latest_data
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.notify import notify
from core.orgs import OrgUnit, Period, PeriodClosedError, parse_period
from core.scope import Scope, scope_for
from plugins.accountability import ladder as ladder_mod
from plugins.accountability import shapes
from plugins.accountability.models import STANDING, Appeal, Record, RecordHistory

OBJECT = "accountability_record"
STATE_FIELDS = shapes.STATE_FIELDS  # what a record's standing state is made of


def now() -> dt.datetime:
    return clock.now()


def today() -> dt.date:
    return clock.local_now().date()


def local_date(moment: dt.datetime | None) -> dt.date | None:
    return moment.astimezone(clock.tz()).date() if moment else None


async def current_ladder() -> ladder_mod.Ladder:
    """The ladder of the newest applied assessment definition (no section: no rules)."""
    return ladder_mod.load((await latest_data()).get("accountability"))


# -- history and state -------------------------------------------------------------------

async def add_history(record: Record, action: str, *, from_status: str = "", from_measure: str = "",
                      from_points: Decimal | None = None, note: str = "", event_key: str = "",
                      public: bool | None = None) -> RecordHistory:
    """One step of the record, written after the record itself has changed."""
    if public is None:
        public = record.status in STANDING or record.status == "withdrawn"
    return await RecordHistory.create(
        record=record, actor=audit.current_actor(), action=action, from_status=from_status,
        to_status=record.status, from_measure=from_measure, to_measure=record.measure,
        from_points=from_points, to_points=record.points, note=note, event_key=event_key,
        public=public)


def standing_state(record: Record) -> dict[str, Any]:
    """The fields an upgrade replaces, kept so a dismissed upgrade can restore them."""
    return audit.canonical({name: getattr(record, name) for name in STATE_FIELDS})


def restore_state(record: Record, state: dict[str, Any]) -> None:
    record.status = state["status"]
    record.measure = state["measure"]
    record.points = Decimal(str(state["points"]))
    record.approved_at = dt.datetime.fromisoformat(state["approved_at"]) if state["approved_at"] else None
    record.approved_by = state["approved_by"]
    record.carried_out_on = (dt.date.fromisoformat(state["carried_out_on"])
                             if state["carried_out_on"] else None)
    record.carried_out_by = state["carried_out_by"]
    record.carried_out_notes = state["carried_out_notes"]
    record.closed_at = dt.datetime.fromisoformat(state["closed_at"]) if state["closed_at"] else None
    record.responsible_person = state.get("responsible_person", record.responsible_person)
    record.target = state.get("target", record.target)


def deduction(record: Record) -> tuple[str, Decimal, dt.date] | None:
    """(measure, points, carried-out date) that counts for the unit, or None.

    A carried-out measure keeps counting while an upgrade of it waits for approval or for
    its own carrying out, so an upgrade never makes earlier deductions disappear.
    """
    if record.status in ("carried_out", "closed") and record.carried_out_on:
        return record.measure, record.points, record.carried_out_on
    prev = record.prev_state
    if (record.status in ("proposed", "approved") and prev
            and prev.get("status") in ("carried_out", "closed") and prev.get("carried_out_on")):
        return prev["measure"], Decimal(str(prev["points"])), dt.date.fromisoformat(prev["carried_out_on"])
    return None


def public_view(record: Record) -> dict[str, Any] | None:
    """What the unit may see: the standing state, never a proposal awaiting approval."""
    if record.status in STANDING or record.status == "withdrawn":
        return {name: getattr(record, name) for name in STATE_FIELDS}
    if record.status == "proposed" and record.prev_state:
        return dict(record.prev_state)
    return None


# -- scoping -----------------------------------------------------------------------------

async def user_scope(user: User) -> Scope:
    scope = await scope_for(user)
    if scope.kind == "assigned":
        raise Forbidden("forbidden", "instructors have no accountability records")
    return scope


def unit_sees(record: Record) -> bool:
    return public_view(record) is not None


async def get_record(record_id: int, user: User | None = None) -> Record:
    """The record, or NotFound when it does not exist or the user may not see it."""
    record = await Record.get_or_none(id=record_id).select_related("unit")
    if record is None:
        raise NotFound("not_found", f"accountability record #{record_id} does not exist")
    if user is not None:
        scope = await user_scope(user)
        if not scope.allows_unit_path(record.unit.path) or (
                user.role == "unit_officer" and not unit_sees(record)):
            raise NotFound("not_found", f"accountability record #{record_id} does not exist")
    return record


def _unit_sees_q() -> Q:
    """unit_sees() as a database condition: a standing or withdrawn measure, or a proposal
    over one (the unit then sees the measure it replaces)."""
    return Q(status__in=(*STANDING, "withdrawn")) | Q(status="proposed", prev_state__isnull=False)


async def unit_text(qs, text: str, field: str = "unit"):
    """A unit typed as text: an exact code takes its subtree, else the start of a code or a
    part of a name."""
    text = (text or "").strip()
    if not text:
        return qs
    exact = await OrgUnit.get_or_none(code=text)
    if exact is not None:
        return qs.filter(**{f"{field}__path__startswith": exact.path})
    return qs.filter(Q(**{f"{field}__code__startswith": text})
                     | Q(**{f"{field}__name__icontains": text}))


async def records_query(user: User, *, status: str = "", period: str = "", unit_code: str = "",
                        measure: str = "", unit_text_filter: str = "",
                        lang: str = i18n.DEFAULT):
    """The records the user may see, filtered, as one query (newest first): pages count and
    slice it in the database."""
    scope = await user_scope(user)
    qs = Record.all()
    if scope.kind == "subtree":
        qs = qs.filter(unit__path__startswith=scope.unit_path or "\0")
    if user.role == "unit_officer":
        qs = qs.filter(_unit_sees_q())
    if status:
        qs = qs.filter(status=status)
    if period:
        qs = qs.filter(id__in=[r.id for r in await period_records(period)])
    if measure:
        qs = qs.filter(measure=measure)
    if unit_code:
        unit = await unit_picker.resolve(unit_code, field="unit",
                                         label=i18n.t("accountability.unit", lang), lang=lang)
        qs = qs.filter(unit__path__startswith=unit.path)
    qs = await unit_text(qs, unit_text_filter)
    return qs.select_related("unit").order_by("-id")


async def list_records(user: User, *, status: str = "", period: str = "", unit_code: str = "",
                       measure: str = "", limit: int = 500, lang: str = i18n.DEFAULT
                       ) -> list[Record]:
    qs = await records_query(user, status=status, period=period, unit_code=unit_code,
                             measure=measure, lang=lang)
    return await qs.limit(limit)


async def history_for(record: Record, user: User) -> list[RecordHistory]:
    qs = RecordHistory.filter(record=record)
    if user.role == "unit_officer":
        qs = qs.filter(public=True)
    return await qs.order_by("id")


# -- periods -----------------------------------------------------------------------------

async def period_dates(code: str) -> tuple[dt.date, dt.date]:
    period = await Period.get_or_none(code=code)
    if period is not None:
        return period.start, period.end
    try:
        _, start, end = parse_period(code)
    except ValueError as exc:
        raise Invalid("bad_period", f"period: {exc}", field="period") from None
    return start, end


async def counted(start: dt.date, end: dt.date) -> list[tuple[Record, str, Decimal]]:
    """(record, measure, points) of every measure carried out between start and end."""
    # Candidates: the record itself was carried out in the period, or the state an
    # upgrade replaced was (few: upgrades waiting for a decision or for carrying out).
    rows = await Record.filter(status__in=("carried_out", "closed"), carried_out_on__gte=start,
                               carried_out_on__lte=end).select_related("unit")
    rows += await Record.filter(status__in=("proposed", "approved"),
                                prev_state__isnull=False).select_related("unit")
    out = []
    for row in rows:
        found = deduction(row)
        if found and start <= found[2] <= end:
            out.append((row, found[0], found[1]))
    return out


async def period_records(period: str, unit: OrgUnit | None = None) -> list[Record]:
    """The records of a period, in id order: those whose own period is the period or lies
    within its dates (a year holds its quarters), and those whose measure was carried out
    within its dates. Ledgers, summaries and the record list filtered by period use this."""
    start, end = await period_dates(period)
    codes = {period} | set(await Period.filter(start__gte=start, end__lte=end)
                           .values_list("code", flat=True))
    qs = Record.filter(period__in=sorted(codes)).select_related("unit")
    if unit is not None:
        qs = qs.filter(unit__path__startswith=unit.path)
    rows = {r.id: r for r in await qs}
    for r, _, _ in await counted(start, end):
        if unit is None or r.unit.path.startswith(unit.path):
            rows.setdefault(r.id, r)
    return [rows[k] for k in sorted(rows)]


async def refuse_closed_date(day: dt.date) -> None:
    """A date inside a closed period would change that period's figures: refused."""
    closed = await Period.filter(status="closed", start__lte=day, end__gte=day).first()
    if closed is not None:
        raise PeriodClosedError(closed.code)


# -- notifications -----------------------------------------------------------------------

async def unit_officers(unit_id: int) -> list[User]:
    return await User.filter(role="unit_officer", unit_id=unit_id, is_active=True)


async def tell(users: list[User], subject_key: str, body_key: str, *, key: str, link: str,
               **params: Any) -> int:
    """Notify each user in their own language; the event key keeps it to once per person."""
    told = 0
    by_lang: dict[str, list[User]] = {}
    for user in users:
        by_lang.setdefault(user.language if user.language in i18n.LANGUAGES else i18n.DEFAULT,
                           []).append(user)
    for lang, group in by_lang.items():
        params_l = {**params, "measure": i18n.t(f"accountability.measure.{params.get('measure')}", lang)}
        if "ref" in params and not str(params["ref"] or "").strip():
            # A record entered by hand may have no reference number: its kind is the basis.
            params_l["ref"] = i18n.t(f"accountability.trigger.{params.get('trigger', 'manual')}", lang)
        told += await notify(group, i18n.t(subject_key, lang, **params_l),
                             i18n.t(body_key, lang, **params_l), key=key, link=link)
    return told


def _basis(record: Record) -> str:
    """What a record rests on, for the unit's message: its reference, else its title."""
    text = (record.trigger_ref or record.trigger_title or "").strip()
    return text if len(text) <= 60 else text[:59] + "…"


def record_link(record: Record) -> str:
    return f"/accountability/records/{record.id}"


# -- lifecycle ---------------------------------------------------------------------------

def _conflict(record: Record, action: str, allowed: str) -> Conflict:
    return Conflict("bad_status", f"record #{record.id} is {record.status}: only a {allowed} "
                                  f"record can be {action}", field="status")


async def approve(record_id: int, *, responsible_person: str | None = None,
                  points: Any = None, note: str = "") -> Record:
    """An admin approves a proposal; the unit is told. Approving twice is refused (409)."""
    async with in_transaction():
        record = await get_record(record_id)
        unit = record.unit
        if record.status != "proposed":
            raise _conflict(record, "approved", "proposed")
        before = audit.snapshot(record)
        changes: dict[str, Any] = {"status": "approved", "approved_at": now(),
                                   "approved_by": audit.current_actor()}
        if responsible_person is not None and responsible_person.strip():
            changes["responsible_person"] = responsible_person.strip()[:100]
        if points not in (None, ""):
            changes["points"] = _points_arg(points)
        # Set-based and conditional: of two simultaneous approvals only one matches.
        updated = await Record.filter(id=record.id, status="proposed",
                                      revision=record.revision).update(**changes)
        if not updated:
            raise _conflict(record, "approved", "proposed")
        await record.refresh_from_db()
        await RecordHistory.filter(record=record).update(public=True)
        await add_history(record, "approved", from_status="proposed", from_measure=before["measure"],
                          from_points=Decimal(str(before["points"])), note=note)
        await audit.record("accountability.approve", OBJECT, record.id, before=before,
                           after=audit.snapshot(record), reason=note)
    await tell(await unit_officers(unit.id), "accountability.notify.approved_subject",
               "accountability.notify.approved_body", key=f"accountability.approved:{record.id}:"
               f"{record.revision}", link=record_link(record), measure=record.measure,
               unit=unit.name, ref=_basis(record), points=record.points,
               trigger=record.trigger_type)
    record.unit = unit
    return record


def _points_arg(value: Any, field: str = "points") -> Decimal:
    try:
        dec = ladder_mod.to_points(value)
    except ValueError as exc:
        raise Invalid("bad_points", f"{field}: {exc}", field=field) from None
    if dec < 0 or dec > 1000:
        raise Invalid("bad_points", f"{field}: expected 0–1000 deduction points, got {value}",
                      field=field)
    return dec


async def dismiss(record_id: int, reason: str) -> Record:
    """Dismiss a proposal with a reason. A dismissed upgrade restores the measure it replaced."""
    if not (reason or "").strip():
        raise Invalid("reason_required", "reason: a dismissal needs a reason", field="reason")
    async with in_transaction():
        record = await get_record(record_id)
        if record.status != "proposed":
            raise _conflict(record, "dismissed", "proposed")
        before = audit.snapshot(record)
        if record.prev_state:
            restore_state(record, record.prev_state)
            record.prev_state = None
            action = "upgrade_dismissed"
        else:
            record.status = "dismissed"
            action = "dismissed"
        record.reason = reason.strip()
        updated = await Record.filter(id=record.id, status="proposed",
                                      revision=record.revision).update(
            **{f: getattr(record, f) for f in STATE_FIELDS}, prev_state=None, reason=record.reason)
        if not updated:
            raise _conflict(record, "dismissed", "proposed")
        await add_history(record, action, from_status="proposed", from_measure=before["measure"],
                          from_points=Decimal(str(before["points"])), note=reason.strip(),
                          public=False)  # the unit never saw the proposal it dismisses
        await audit.record("accountability.dismiss", OBJECT, record.id, before=before,
                           after=audit.snapshot(record), reason=reason.strip())
    return record


async def carry_out(record_id: int, *, on: dt.date | str | None = None, notes: str = "") -> Record:
    """Record that the measure was carried out (date, by whom, notes)."""
    day = _date_arg(on) if on not in (None, "") else today()
    if day > today():
        raise Invalid("bad_date", f"date: {day.isoformat()} is in the future", field="date")
    await refuse_closed_date(day)
    async with in_transaction():
        record = await get_record(record_id)
        if record.status != "approved":
            raise _conflict(record, "carried out", "approved")
        if record.approved_at and day < local_date(record.approved_at):
            raise Invalid("bad_date", f"date: {day.isoformat()} is before the approval on "
                                      f"{local_date(record.approved_at).isoformat()}", field="date")
        before = audit.snapshot(record)
        record.status, record.carried_out_on = "carried_out", day
        record.carried_out_by, record.carried_out_notes = audit.current_actor(), (notes or "").strip()
        # The measure now stands by itself: the replaced one no longer counts.
        record.prev_state = None
        await record.save()
        await add_history(record, "carried_out", from_status="approved",
                          from_measure=record.measure, from_points=record.points,
                          note=f"{day.isoformat()} {record.carried_out_notes}".strip())
        await audit.record("accountability.carry_out", OBJECT, record.id, before=before,
                           after=audit.snapshot(record))
    return record


def _date_arg(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise Invalid("bad_date", f"date: '{value}' is not a date yyyy-mm-dd", field="date") from None


async def close(record_id: int, note: str = "") -> Record:
    async with in_transaction():
        record = await get_record(record_id)
        if record.status != "carried_out":
            raise _conflict(record, "closed", "carried_out")
        if await Appeal.exists(record=record, status="pending"):
            raise Conflict("appeal_pending", f"record #{record.id}: an appeal is pending; "
                                             "decide it before closing", field="status")
        before = audit.snapshot(record)
        record.status, record.closed_at = "closed", now()
        await record.save()
        await add_history(record, "closed", from_status="carried_out", from_measure=record.measure,
                          from_points=record.points, note=note)
        await audit.record("accountability.close", OBJECT, record.id, before=before,
                           after=audit.snapshot(record), reason=note)
    return record


async def create_manual(*, unit_code: str, measure: str, points: Any, reason: str,
                        responsible_person: str = "", target: str = "unit", period: str = "",
                        trigger_ref: str = "", trigger_link: str = "") -> Record:
    """An admin records a measure by hand (the only way to 移送纪检监察); it stands at once."""
    unit = await OrgUnit.get_or_none(code=(unit_code or "").strip())
    if unit is None:
        raise Invalid("unknown_unit", f"unit_code: no org unit with code '{unit_code}'",
                      field="unit_code")
    if measure not in ladder_mod.RANK:
        raise Invalid("bad_measure", f"measure: '{measure}' is not one of "
                                     f"{', '.join(ladder_mod.MEASURES)}", field="measure")
    if target not in ladder_mod.TARGETS:
        raise Invalid("bad_target", f"target: '{target}' is not one of unit, head", field="target")
    if not (reason or "").strip():
        raise Invalid("reason_required", "reason: say why this measure is taken", field="reason")
    if trigger_link and not trigger_link.startswith("/") and not trigger_link.startswith("http"):
        raise Invalid("bad_link", "trigger_link: expected a path or http(s) address",
                      field="trigger_link")
    if period:
        await period_dates(period)
    value = _points_arg(points)
    async with in_transaction():
        record = await Record.create(
            unit=unit, responsible_person=responsible_person.strip()[:100], target=target,
            trigger_type="manual", trigger_key=None, trigger_ref=trigger_ref.strip()[:100],
            trigger_title=reason.strip()[:300], trigger_link=trigger_link.strip()[:300],
            period=period, measure=measure, points=value, automatic=False, status="approved",
            reason=reason.strip(), approved_at=now(), approved_by=audit.current_actor())
        await add_history(record, "recorded", note=reason.strip())
        await audit.record("accountability.record_manual", OBJECT, record.id,
                           after=audit.snapshot(record), reason=reason.strip())
    await record.fetch_related("unit")
    await tell(await unit_officers(unit.id), "accountability.notify.approved_subject",
               "accountability.notify.approved_body", key=f"accountability.approved:{record.id}:1",
               link=record_link(record), measure=measure, unit=unit.name, ref=_basis(record),
               points=value, trigger=record.trigger_type)
    return record


# -- views -------------------------------------------------------------------------------

def record_out(record: Record, user: User | None = None) -> shapes.RecordOut:
    """The API shape of a record; unit officers get the standing state only."""
    officer = user is not None and user.role == "unit_officer"
    state = (public_view(record) or {}) if officer else {n: getattr(record, n) for n in STATE_FIELDS}
    return shapes.RecordOut.of(record, audit.canonical(state), record_link(record),
                               internal=not officer)
