"""Instructor reports (报送): the checks, the plan of an upload, saving, and the review.

One path for every channel: a web form, a JSON call, an Excel row and a CLI row all go
through `clean_report` (checks that need no database) and `ReportPlanner` (checks against
the registry and the caller's assignments, and the difference with what is stored).
Reports are keyed by credit code + period, so the same file twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tortoise.transactions import in_transaction

from core import audit
from core.accounts import User
from core.errors import Invalid, NotFound
from core.orgs import Period, get_open_period
from core.uploads import CellError, Preview
from plugins.coverage import codes
from plugins.coverage.codes import FieldError
from plugins.coverage.models import (
    CoverageReport,
    InstructorAssignment,
    Organization,
    PartyOrgLink,
)
from plugins.coverage.workbooks import REPORT_FIELDS, REPORT_HEADERS

CHUNK = 900  # stays under SQLite's bound-variable limit
COUNT_FIELDS = ("party_members", "formal_members", "probationary_members")
PARTY_FIELDS = ("party_org_change", "party_org_type", "change_date")


def today() -> dt.date:
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


# -- checks without the database -----------------------------------------------------------
def is_blank(values: dict[str, Any]) -> bool:
    return all(values.get(k) in (None, "") for k in REPORT_FIELDS)


def clean_report(values: dict[str, Any], period: Period, skip: Iterable[str] = (),
                 on: dt.date | None = None) -> tuple[dict[str, Any], list[FieldError]]:
    """Check one report's values; return the clean values and every problem found.

    `skip` names fields whose cell already failed to convert (reported once, not twice).
    """
    skip = set(skip)
    errors: list[FieldError] = []
    clean: dict[str, Any] = {}

    def take(name: str, fn: Callable[[], Any]) -> None:
        if name in skip:
            return
        try:
            clean[name] = fn()
        except FieldError as exc:
            errors.append(exc)

    take("uscc", lambda: codes.check_uscc(values.get("uscc")))
    for name in COUNT_FIELDS:
        take(name, lambda name=name: codes.check_count(values.get(name), name))
    for name in ("visits", "activities"):
        take(name, lambda name=name: codes.check_count(values.get(name), name, required=False))
    if all(name in clean for name in COUNT_FIELDS):
        try:
            codes.check_members(clean["party_members"], clean["formal_members"],
                                clean["probationary_members"])
        except FieldError as exc:
            errors.append(exc)
    take("party_org_change", lambda: codes.from_label(
        values.get("party_org_change") or "none", codes.CHANGE_LABELS, "party_org_change"))
    change = clean.get("party_org_change", "none")
    take("change_date", lambda: codes.check_date(values.get("change_date"), "change_date",
                                                 required=change != "none"))
    day = clean.get("change_date")
    if day is not None:
        if day > period.end:
            errors.append(FieldError("change_date", "date_after_period",
                                     {"value": day.isoformat(), "period": period.code,
                                      "end": period.end.isoformat()}))
        elif day > (on or today()):
            errors.append(FieldError("change_date", "date_in_future", {"value": day.isoformat()}))
    if change == "established" or values.get("party_org_type"):
        take("party_org_type", lambda: codes.from_label(
            values.get("party_org_type"), codes.PARTY_ORG_TYPE_LABELS, "party_org_type")
            if values.get("party_org_type") else _required("party_org_type"))
    take("secretary", lambda: codes.check_text(values.get("secretary"), "secretary", 100))
    take("remarks", lambda: codes.check_text(values.get("remarks"), "remarks", 500))
    if change == "none":
        clean["change_date"] = None
        clean["party_org_type"] = ""
    clean.setdefault("party_org_type", "")
    return clean, errors


def _required(name: str) -> Any:
    raise FieldError(name, "required")


# -- checks against the database -----------------------------------------------------------
@dataclass
class OrgInfo:
    id: int
    uscc: str
    name: str
    status: str
    closed_on: dt.date | None


@dataclass
class RowOutcome:
    row: int
    uscc: str
    action: str  # create, change, unchanged, error
    values: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    errors: list[FieldError] = field(default_factory=list)
    org: OrgInfo | None = None


async def _in_chunks(keys: list[Any], fetch: Callable[[list[Any]], Any]) -> list[Any]:
    out: list[Any] = []
    for i in range(0, len(keys), CHUNK):
        out.extend(await fetch(keys[i:i + CHUNK]))
    return out


class ReportPlanner:
    """Decides, for many rows at once, what saving them would do."""

    def __init__(self, period: Period, user: User | None):
        self.period = period
        self.user = user  # an instructor is limited to their assigned organizations
        self.orgs: dict[str, OrgInfo] = {}
        self.assigned: set[int] | None = None
        self.own_party: set[int] = set()
        self.existing: dict[str, CoverageReport] = {}

    async def load(self, usccs: Iterable[str]) -> None:
        keys = sorted(set(usccs))
        rows = await _in_chunks(keys, lambda chunk: Organization.filter(uscc__in=chunk).values_list(
            "id", "uscc", "name", "status", "closed_on"))
        self.orgs = {r[1]: OrgInfo(*r) for r in rows}
        ids = [o.id for o in self.orgs.values()]
        if self.user is not None and self.user.role == "instructor":
            self.assigned = set(await InstructorAssignment.filter(
                instructor_id=self.user.id, end_on=None).values_list("organization_id", flat=True))
        self.own_party = set(await _in_chunks(ids, lambda chunk: PartyOrgLink.filter(
            organization_id__in=chunk, party_org__formation="standalone",
            party_org__dissolved_on=None).values_list("organization_id", flat=True)))
        reports = await _in_chunks(keys, lambda chunk: CoverageReport.filter(
            period_code=self.period.code, uscc__in=chunk))
        self.existing = {r.uscc: r for r in reports}

    def decide(self, row: int, clean: dict[str, Any]) -> RowOutcome:
        uscc = clean["uscc"]
        out = RowOutcome(row, uscc, "error", values=clean)
        org = self.orgs.get(uscc)
        if org is None:
            out.errors.append(FieldError("uscc", "unknown_org", {"value": uscc}))
            return out
        out.org = org
        if self.assigned is not None and org.id not in self.assigned:
            out.errors.append(FieldError("uscc", "not_assigned", {"value": uscc, "name": org.name}))
            return out
        if org.status != "active" and org.closed_on and org.closed_on < self.period.start:
            out.errors.append(FieldError("uscc", "org_closed", {
                "value": uscc, "name": org.name, "closed_on": org.closed_on.isoformat()}))
            return out
        old = self.existing.get(uscc)
        if old is not None:
            out.changes = {name: (getattr(old, name), clean[name]) for name in REPORT_FIELDS
                           if _norm(getattr(old, name)) != _norm(clean[name])}
            if not out.changes:
                out.action = "unchanged"
                return out
        party_changed = old is None or any(name in out.changes for name in PARTY_FIELDS)
        change = clean["party_org_change"]
        if party_changed and change == "established" and org.id in self.own_party:
            out.errors.append(FieldError("party_org_change", "already_has_own", {"name": org.name}))
        if party_changed and change == "dissolved" and org.id not in self.own_party:
            out.errors.append(FieldError("party_org_change", "no_own_party_org", {"name": org.name}))
        if not out.errors:
            out.action = "create" if old is None else "change"
        return out


def _norm(value: Any) -> Any:
    return "" if value is None else value


# -- planning an upload --------------------------------------------------------------------
@dataclass
class ReportPlan:
    period: str
    outcomes: list[RowOutcome]
    errors: list[CellError]
    skipped_blank: int = 0

    def count(self, action: str) -> int:
        return sum(1 for o in self.outcomes if o.action == action)

    def preview(self, lang: str = "zh") -> Preview:
        h = REPORT_HEADERS
        keys = ["uscc", "name", *REPORT_FIELDS]
        create, change = [], []
        for o in self.outcomes:
            if o.action == "create":
                values = {k: _shown(o.values.get(k)) for k in keys}
                values["name"] = o.org.name if o.org else ""
                create.append({"row": o.row, "values": values})
            elif o.action == "change":
                change.append({"row": o.row, "label": f"{o.org.name}（{o.uscc}）" if o.org else o.uscc,
                               "changes": [{"field": h[k], "before": _shown(b), "after": _shown(a)}
                                           for k, (b, a) in o.changes.items()]})
        return Preview(columns=[(k, h[k]) for k in keys], create=create, change=change,
                       errors=self.errors, unchanged=self.count("unchanged"))

    def summary(self) -> dict[str, int]:
        return {"create": self.count("create"), "change": self.count("change"),
                "unchanged": self.count("unchanged"), "errors": len(self.errors),
                "error_rows": len({e.row for e in self.errors})}


def _shown(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if value in codes.CHANGE_LABELS:
        return codes.CHANGE_LABELS[value]
    if value in codes.PARTY_ORG_TYPE_LABELS:
        return codes.PARTY_ORG_TYPE_LABELS[value]
    return value


def _cell_error(sheet: str, letters: dict[str, str], row: int, err: FieldError,
                lang: str) -> CellError:
    key = "formal_members" if err.field == "formal_members" else err.field
    return CellError(sheet, row, letters.get(key, ""), err.message(lang), REPORT_HEADERS.get(key, key))


async def plan_rows(rows: list[tuple[int, dict[str, Any]]], period: Period, user: User | None,
                    *, sheet: str = "报送", letters: dict[str, str] | None = None,
                    prior: list[CellError] = (), lang: str = "zh",
                    progress: Callable[[int], None] | None = None) -> ReportPlan:
    """The plan of typed rows (from read_table, or stored between preview and confirm)."""
    letters = letters or {}
    errors: list[CellError] = list(prior)
    bad_cells: dict[int, set[str]] = {}
    by_letter = {v: k for k, v in letters.items()}
    for e in prior:
        bad_cells.setdefault(e.row, set()).add(by_letter.get(e.column, e.column))
    cleaned: list[tuple[int, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    skipped = 0
    for n, (row, values) in enumerate(rows, start=1):
        if progress and n % 500 == 0:
            progress(500)
        skip = bad_cells.get(row, set())
        if is_blank(values) and not (skip & set(REPORT_FIELDS)):
            skipped += 1  # a pre-filled row left empty: not reported yet
            continue
        clean, problems = clean_report(values, period, skip=skip)
        uscc = clean.get("uscc")
        if uscc:
            if uscc in seen:
                problems.append(FieldError("uscc", "duplicate", {"value": uscc, "row": seen[uscc]}))
            else:
                seen[uscc] = row
        errors.extend(_cell_error(sheet, letters, row, p, lang) for p in problems)
        if not problems and not skip:
            cleaned.append((row, clean))
    planner = ReportPlanner(period, user)
    await planner.load(c["uscc"] for _, c in cleaned)
    outcomes = []
    for row, clean in cleaned:
        out = planner.decide(row, clean)
        errors.extend(_cell_error(sheet, letters, row, p, lang) for p in out.errors)
        outcomes.append(out)
    if progress:
        progress(len(rows) % 500)
    errors.sort(key=lambda e: (e.row, e.column))
    return ReportPlan(period.code, outcomes, errors, skipped)


# -- saving --------------------------------------------------------------------------------
async def save_plan(plan: ReportPlan, user: User | None, *, source: str = "upload",
                    reference: str = "") -> dict[str, int]:
    """Save the plan's valid rows in the caller's transaction (one if there is none)."""
    await get_open_period(plan.period)  # closed since the preview: nothing is saved
    now = dt.datetime.now(dt.UTC)
    creates = [o for o in plan.outcomes if o.action == "create"]
    changes = [o for o in plan.outcomes if o.action == "change"]
    if not creates and not changes:
        return plan.summary()
    user_id = user.id if user is not None else None
    async with in_transaction():
        if creates:
            await CoverageReport.bulk_create([
                CoverageReport(organization_id=o.org.id, uscc=o.uscc, period_code=plan.period,
                               status="submitted", submitted_by_id=user_id, submitted_at=now,
                               **{k: o.values[k] for k in REPORT_FIELDS})
                for o in creates], batch_size=1000)
        if changes:
            existing = {r.uscc: r for r in await _in_chunks(
                [o.uscc for o in changes], lambda chunk: CoverageReport.filter(
                    period_code=plan.period, uscc__in=chunk))}
            objs = []
            for o in changes:
                report = existing[o.uscc]
                for k in REPORT_FIELDS:
                    setattr(report, k, o.values[k])
                report.status, report.return_reason = "submitted", ""
                report.reviewed_by, report.reviewed_at = "", None
                report.submitted_by_id, report.submitted_at, report.updated_at = user_id, now, now
                objs.append(report)
            await CoverageReport.bulk_update(
                objs, fields=[*REPORT_FIELDS, "status", "return_reason", "reviewed_by",
                              "reviewed_at", "submitted_by_id", "submitted_at", "updated_at"],
                batch_size=500)
        await audit.record_many("coverage.report.submit", "coverage_report", [
            *((f"{o.uscc}@{plan.period}", None, {**o.values, "source": source, "ref": reference})
              for o in creates),
            *((f"{o.uscc}@{plan.period}", {k: b for k, (b, _) in o.changes.items()},
               {**{k: a for k, (_, a) in o.changes.items()}, "source": source, "ref": reference})
              for o in changes)])
    return plan.summary()


# -- one report by form or API -------------------------------------------------------------
async def submit_one(user: User, period_code: str, values: dict[str, Any],
                     lang: str = "zh") -> tuple[CoverageReport, str]:
    """Save one report; raises Invalid naming the first bad field."""
    period = await _report_period(period_code)
    clean, problems = clean_report(values, period)
    if problems:
        raise _invalid(problems, lang)
    planner = ReportPlanner(period, user)
    await planner.load([clean["uscc"]])
    out = planner.decide(0, clean)
    if out.errors:
        err = out.errors[0]
        from core.errors import Forbidden

        if err.key == "not_assigned":
            raise Forbidden("not_assigned", err.message(lang), field="uscc")
        raise _invalid(out.errors, lang)
    plan = ReportPlan(period.code, [out], [])
    await save_plan(plan, user, source="form")
    return await CoverageReport.get(uscc=clean["uscc"], period_code=period.code), out.action


def _invalid(problems: list[FieldError], lang: str) -> Invalid:
    first = problems[0]
    return Invalid(f"invalid_{first.field}", first.message(lang), field=first.field,
                   details=[{"field": p.field, "message": p.message(lang)} for p in problems])


async def _report_period(code: str) -> Period:
    """An open period of the kind instructors report for."""
    from plugins.coverage.config import definition

    period = await Period.get_or_none(code=code)
    if period is None:
        raise NotFound("unknown_period", f"period: no period '{code}'", field="period")
    kind = (await definition()).report_period_kind
    if period.kind != kind:
        raise Invalid("wrong_period_kind", f"period: '{code}' is a {period.kind}; reports are "
                      f"made per {kind}", field="period")
    return await get_open_period(code)


async def report_period(code: str) -> Period:
    return await _report_period(code)
