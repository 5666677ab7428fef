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

from core import audit, clock
from core.accounts import User
from core.errors import Invalid, NotFound
from core.orgs import Period, PeriodClosedError, get_open_period
from core.sql import Sql
from core.uploads import CellError, Preview
from plugins.coverage import codes
from plugins.coverage.codes import FieldError
from plugins.coverage.models import (
    CoverageReport,
)
from plugins.coverage.workbooks import REPORT_FIELDS, REPORT_HEADERS

CHUNK = 900  # stays under SQLite's bound-variable limit
COUNT_FIELDS = ("party_members", "formal_members", "probationary_members")
PARTY_FIELDS = ("party_org_change", "party_org_type", "change_date")


def today() -> dt.date:
    return clock.today()


# -- checks without the database -----------------------------------------------------------
def is_blank(values: dict[str, Any]) -> bool:
    return all(values.get(k) in (None, "") for k in REPORT_FIELDS)


def _check(clean: dict[str, Any], errors: list[FieldError], skip: Any, name: str,
           fn: Callable[..., Any], *args: Any) -> None:
    if name in skip:
        return
    try:
        clean[name] = fn(*args)
    except FieldError as exc:
        errors.append(exc)


def clean_report(values: dict[str, Any], period: Period, skip: Iterable[str] = (),
                 on: dt.date | None = None, check_character: bool = True
                 ) -> tuple[dict[str, Any], list[FieldError]]:
    """Check one report's values; return the clean values and every problem found.

    `skip` names fields whose cell already failed to convert (reported once, not twice).
    With `check_character=False` the credit code's check character is left to
    ReportPlanner.decide, which verifies it for codes the registry does not hold.
    """
    skip = skip if isinstance(skip, set | frozenset) else set(skip)
    errors: list[FieldError] = []
    clean: dict[str, Any] = {}
    get = values.get
    _check(clean, errors, skip, "uscc", codes.check_uscc, get("uscc"), "uscc", check_character)
    for name in COUNT_FIELDS:
        _check(clean, errors, skip, name, codes.check_count, get(name), name)
    for name in ("visits", "activities"):
        _check(clean, errors, skip, name, codes.check_count, get(name), name, False)
    if "party_members" in clean and "formal_members" in clean and "probationary_members" in clean:
        try:
            codes.check_members(clean["party_members"], clean["formal_members"],
                                clean["probationary_members"])
        except FieldError as exc:
            errors.append(exc)
    _check(clean, errors, skip, "party_org_change", codes.from_label,
           get("party_org_change") or "none", codes.CHANGE_LABELS, "party_org_change")
    change = clean.get("party_org_change", "none")
    _check(clean, errors, skip, "change_date", codes.check_date, get("change_date"),
           "change_date", change != "none")
    day = clean.get("change_date")
    if day is not None:
        if day > period.end:
            errors.append(FieldError("change_date", "date_after_period",
                                     {"value": day.isoformat(), "period": period.code,
                                      "end": period.end.isoformat()}))
        elif day > (on or today()):
            errors.append(FieldError("change_date", "date_in_future", {"value": day.isoformat()}))
    if change == "established" or get("party_org_type"):
        if get("party_org_type"):
            _check(clean, errors, skip, "party_org_type", codes.from_label,
                   get("party_org_type"), codes.PARTY_ORG_TYPE_LABELS, "party_org_type")
        elif "party_org_type" not in skip:
            errors.append(FieldError("party_org_type", "required"))
    _check(clean, errors, skip, "secretary", codes.check_text, get("secretary"), "secretary", 100)
    _check(clean, errors, skip, "remarks", codes.check_text, get("remarks"), "remarks", 500)
    if change == "none":
        clean["change_date"] = None
        clean["party_org_type"] = ""
    clean.setdefault("party_org_type", "")
    return clean, errors


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


RAW_CHUNK = 5000


def _date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _stored(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["change_date"] = _date(row.get("change_date"))
    return out


async def _raw_chunks(codes: list[str], sql: Callable[[str], str]) -> list[dict[str, Any]]:
    from tortoise import Tortoise

    conn = Tortoise.get_connection("default")
    out: list[dict[str, Any]] = []
    for i in range(0, len(codes), RAW_CHUNK):
        chunk = codes[i:i + RAW_CHUNK]
        if any(not c.isalnum() for c in chunk):  # never true after check_uscc; belt and braces
            raise ValueError("credit codes must be alphanumeric")
        out.extend(await conn.execute_query_dict(sql(", ".join(f"'{c}'" for c in chunk))))
    return out


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
        self.existing: dict[str, dict[str, Any]] = {}

    async def load(self, usccs: Iterable[str]) -> None:
        """Everything the rows need, in a handful of queries.

        Credit codes are checked (18 characters of the GB 32100 alphabet) before they get
        here, so they are written into the IN lists directly: building 10,000 bound
        parameters through the query builder costs more than the queries themselves.
        """
        keys = sorted(set(usccs))
        period = self.period.code.replace("'", "")
        fields = ", ".join(REPORT_FIELDS)
        # Three narrow queries: the organizations with whether each has its own party
        # organization, and this period's reports (none at all on a first upload).
        rows = await _raw_chunks(keys, lambda codes: f"""
SELECT o.id AS id, o.uscc AS uscc, o.name AS name, o.status AS status, o.closed_on AS closed_on,
       CASE WHEN EXISTS (SELECT 1 FROM coverage_party_org_link l
                         JOIN coverage_party_org p ON p.id = l.party_org_id
                         WHERE l.organization_id = o.id AND p.formation = 'standalone'
                           AND p.dissolved_on IS NULL) THEN 1 ELSE 0 END AS own
FROM coverage_org o WHERE o.uscc IN ({codes})""")
        reports = await _raw_chunks(keys, lambda codes: f"""
SELECT uscc, {fields} FROM coverage_report
WHERE period_code = '{period}' AND uscc IN ({codes})""")
        self.orgs, self.own_party = {}, set()
        for r in rows:
            self.orgs[r["uscc"]] = OrgInfo(r["id"], r["uscc"], r["name"], r["status"],
                                           _date(r["closed_on"]))
            if r["own"]:
                self.own_party.add(r["id"])
        self.existing = {r["uscc"]: _stored(r) for r in reports}
        if self.user is not None and self.user.role == "instructor":
            from tortoise import Tortoise

            _, assigned = await Tortoise.get_connection("default").execute_query(
                "SELECT organization_id FROM coverage_assignment "
                f"WHERE instructor_id = {int(self.user.id)} AND end_on IS NULL")
            self.assigned = {r[0] for r in assigned}

    def decide(self, row: int, clean: dict[str, Any]) -> RowOutcome:
        uscc = clean["uscc"]
        out = RowOutcome(row, uscc, "error", values=clean)
        org = self.orgs.get(uscc)
        if org is None:
            try:  # a wrong check character says more than "not in the registry"
                codes.check_uscc(uscc)
            except FieldError as exc:
                out.errors.append(exc)
                return out
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
            out.changes = {name: (old[name], clean[name]) for name in REPORT_FIELDS
                           if _norm(old[name]) != _norm(clean[name])}
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

    def preview(self, lang: str = "zh", limit: int | None = None) -> Preview:
        """What confirming would do; `limit` caps the listed rows (the counts stay whole)."""
        h = REPORT_HEADERS
        keys = ["uscc", "name", *REPORT_FIELDS]
        create: list[dict[str, Any]] = []
        change: list[dict[str, Any]] = []
        for o in self.outcomes:
            if limit is not None and len(create) >= limit and len(change) >= limit:
                break
            if o.action == "create":
                if limit is not None and len(create) >= limit:
                    continue
                values = {k: _shown(o.values.get(k)) for k in keys}
                values["name"] = o.org.name if o.org else ""
                create.append({"row": o.row, "values": values})
            elif o.action == "change":
                if limit is not None and len(change) >= limit:
                    continue
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


def clean_rows(rows: list[tuple[int, dict[str, Any]]], period: Period, *, sheet: str = "报送",
               letters: dict[str, str] | None = None, prior: Iterable[CellError] = (),
               lang: str = "zh", progress: Callable[[int], None] | None = None
               ) -> tuple[list[tuple[int, dict[str, Any]]], list[CellError], int]:
    """The checks that need no database, for every row: (clean rows, errors, blank rows)."""
    letters = letters or {}
    errors: list[CellError] = list(prior)
    bad_cells: dict[int, set[str]] = {}
    by_letter = {v: k for k, v in letters.items()}
    for e in errors:
        bad_cells.setdefault(e.row, set()).add(by_letter.get(e.column, e.column))
    cleaned: list[tuple[int, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    skipped = 0
    on = today()
    nothing: frozenset[str] = frozenset()
    for n, (row, values) in enumerate(rows, start=1):
        if progress and n % 500 == 0:
            progress(500)
        skip = bad_cells.get(row, nothing)
        if is_blank(values) and not (skip & set(REPORT_FIELDS)):
            skipped += 1  # a pre-filled row left empty: not reported yet
            continue
        clean, problems = clean_report(values, period, skip=skip, on=on, check_character=False)
        uscc = clean.get("uscc")
        if uscc:
            if uscc in seen:
                problems.append(FieldError("uscc", "duplicate", {"value": uscc, "row": seen[uscc]}))
            else:
                seen[uscc] = row
        errors.extend(_cell_error(sheet, letters, row, p, lang) for p in problems)
        if not problems and not skip:
            cleaned.append((row, clean))
    if progress:
        progress(len(rows) % 500)
    return cleaned, errors, skipped


async def decide_rows(cleaned: list[tuple[int, dict[str, Any]]], period: Period,
                      user: User | None, *, sheet: str = "报送",
                      letters: dict[str, str] | None = None, errors: Iterable[CellError] = (),
                      skipped: int = 0, lang: str = "zh") -> ReportPlan:
    """The checks against the registry and the caller's assignments, and the difference with
    what is stored: run at preview and again at confirm (the database may have moved)."""
    letters = letters or {}
    errors = list(errors)
    planner = ReportPlanner(period, user)
    await planner.load(c["uscc"] for _, c in cleaned)
    outcomes = []
    for row, clean in cleaned:
        out = planner.decide(row, clean)
        errors.extend(_cell_error(sheet, letters, row, p, lang) for p in out.errors)
        outcomes.append(out)
    errors.sort(key=lambda e: (e.row, e.column))
    return ReportPlan(period.code, outcomes, errors, skipped)


async def plan_rows(rows: list[tuple[int, dict[str, Any]]], period: Period, user: User | None,
                    *, sheet: str = "报送", letters: dict[str, str] | None = None,
                    prior: Iterable[CellError] = (), lang: str = "zh",
                    progress: Callable[[int], None] | None = None) -> ReportPlan:
    """The plan of typed rows (from read_table): clean, then decide."""
    cleaned, errors, skipped = clean_rows(rows, period, sheet=sheet, letters=letters,
                                          prior=prior, lang=lang, progress=progress)
    return await decide_rows(cleaned, period, user, sheet=sheet, letters=letters, errors=errors,
                             skipped=skipped, lang=lang)


def dump_clean(cleaned: list[tuple[int, dict[str, Any]]]) -> str:
    """Clean rows as one JSON text (dates as ISO text), kept with a staged upload until its
    confirmation. msgspec: ten times quicker than json on 10,000 rows."""
    import msgspec

    return msgspec.json.encode(cleaned).decode()


def load_clean(text: str) -> list[tuple[int, dict[str, Any]]]:
    import msgspec

    out = []
    for row, clean in msgspec.json.decode(text):
        if clean.get("change_date"):
            clean["change_date"] = dt.date.fromisoformat(clean["change_date"])
        out.append((row, clean))
    return out


# -- saving --------------------------------------------------------------------------------
async def save_plan(plan: ReportPlan, user: User | None, *, source: str = "upload",
                    reference: str = "", checked_open: bool = False) -> dict[str, int]:
    """Save the plan's valid rows in the caller's transaction (one if there is none).
    `checked_open`: the caller has just read the period open in this request."""
    if not checked_open:
        await get_open_period(plan.period)  # closed since the preview: nothing is saved
    now = clock.now()
    creates = [o for o in plan.outcomes if o.action == "create"]
    changes = [o for o in plan.outcomes if o.action == "change"]
    if not creates and not changes:
        return plan.summary()
    user_id = user.id if user is not None else None
    async with in_transaction():
        if creates:
            await _insert_reports([
                {"organization_id": o.org.id, "uscc": o.uscc, "period_code": plan.period,
                 **{k: o.values[k] for k in REPORT_FIELDS}, "status": "submitted",
                 "return_reason": "", "submitted_by_id": user_id, "submitted_at": now,
                 "reviewed_by": "", "reviewed_at": None, "created_at": now, "updated_at": now}
                for o in creates])
        if len(changes) == 1:
            # One report (a form or an API call): one UPDATE, not a read and a bulk CASE.
            o = changes[0]
            await CoverageReport.filter(period_code=plan.period, uscc=o.uscc).update(
                **{k: o.values[k] for k in REPORT_FIELDS}, status="submitted", return_reason="",
                reviewed_by="", reviewed_at=None, submitted_by_id=user_id, submitted_at=now,
                updated_at=now)
        elif changes:
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
        await audit.record("coverage.report.submit", "coverage_report",
                           _audit_id(plan, creates, changes, reference),
                           before=_audit_before(changes),
                           after=_audit_after(creates, changes, source, reference))
    return plan.summary()


async def _insert_reports(rows: list[dict[str, Any]]) -> None:
    """A bulk insert of plain rows: building 10,000 model instances for bulk_create costs
    several times the INSERT itself. Values are what Tortoise would bind (dates, aware
    datetimes), in the caller's transaction."""
    from tortoise.transactions import in_transaction as tx

    columns = list(rows[0])
    async with tx() as conn:
        q = Sql(conn)
        marks = q.marks(len(columns))
        value = _same if q.pg else _sqlite_value()
        sql = f"INSERT INTO coverage_report ({', '.join(columns)}) VALUES ({marks})"
        for i in range(0, len(rows), 2000):
            await conn.execute_many(sql, [[value(r[c]) for c in columns]
                                          for r in rows[i:i + 2000]])


def _same(value: Any) -> Any:
    return value


def _sqlite_value() -> Callable[[Any], Any]:
    """sqlite3 calls its datetime adapter for every value; the rows share a few timestamps,
    so each is adapted once here (the registered adapter, so the stored text is the same)."""
    import sqlite3

    adapt = sqlite3.adapters.get((dt.datetime, sqlite3.PrepareProtocol))
    memo: dict[dt.datetime, Any] = {}

    def value(v: Any) -> Any:
        if adapt is None or v.__class__ is not dt.datetime:
            return v
        if v not in memo:
            memo[v] = adapt(v)
        return memo[v]

    return value


AUDIT_VALUES_UP_TO = 100  # beyond this the entry lists keys; values stay in the rows and file


def _audit_id(plan: ReportPlan, creates: list[RowOutcome], changes: list[RowOutcome],
              reference: str) -> str:
    if len(creates) + len(changes) == 1:
        return f"{(creates or changes)[0].uscc}@{plan.period}"
    return f"{plan.period}:{reference[:16] or 'batch'}"


def _audit_before(changes: list[RowOutcome]) -> dict[str, Any] | None:
    if not changes:
        return None
    return {o.uscc: {k: b for k, (b, _) in o.changes.items()} for o in changes}


def _audit_after(creates: list[RowOutcome], changes: list[RowOutcome], source: str,
                 reference: str) -> dict[str, Any]:
    """One entry per save: what was created and what changed, by credit code."""
    small = len(creates) <= AUDIT_VALUES_UP_TO
    return {"source": source, "ref": reference,
            "created": ({o.uscc: {k: o.values[k] for k in REPORT_FIELDS} for o in creates}
                        if small else [o.uscc for o in creates]),
            "changed": {o.uscc: {k: a for k, (_, a) in o.changes.items()} for o in changes}}


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
    await save_plan(plan, user, source="form", checked_open=True)
    return await CoverageReport.get(uscc=clean["uscc"], period_code=period.code), out.action


def _invalid(problems: list[FieldError], lang: str) -> Invalid:
    """422 naming the field in its message too ("正式党员：…"), every problem in details."""
    from core import i18n

    def named(p: FieldError) -> str:
        sep = "：" if lang == "zh" else ": "
        return f"{i18n.t(f'coverage.field.{p.field}', lang)}{sep}{p.message(lang)}"

    first = problems[0]
    return Invalid(f"invalid_{first.field}", named(first), field=first.field,
                   details=[{"field": p.field, "message": named(p)} for p in problems])


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
    if period.is_closed:  # what get_open_period says, without reading the row again
        raise PeriodClosedError(code)
    return period


async def report_period(code: str) -> Period:
    return await _report_period(code)
