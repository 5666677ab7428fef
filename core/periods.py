"""Assessment periods for admins: add one, close it, open it again. Every change is audited.

A closed period takes no more writes (core.orgs.get_open_period) and the plugins read its
figures as they stood on its last day (coverage freezes them). Closing is a status, never a
deletion, so a period closed by mistake is opened again with the same code.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.transactions import in_transaction

from core import audit, clock, i18n
from core.errors import Conflict, FieldsInvalid, NotFound
from core.orgs import Period, parse_period

# What the add form offers after the year: the whole year, its halves, quarters and months.
PARTS = ("year", "H1", "H2", "Q1", "Q2", "Q3", "Q4",
         *(f"{m:02d}" for m in range(1, 13)))
YEARS = (2000, 2099)


def name(period: Period | str, lang: str = i18n.DEFAULT) -> str:
    """A period as people say it: 2014年第三季度, 2014年上半年, 2014年5月."""
    code = period.code if isinstance(period, Period) else period
    kind, start, _ = parse_period(code)
    year = start.year
    if kind == "year":
        return i18n.t("periods.name_year", lang, year=year)
    if kind == "half":
        return i18n.t(f"periods.name_{code[-2:].lower()}", lang, year=year)
    if kind == "quarter":
        return i18n.t(f"periods.name_{code[-2:].lower()}", lang, year=year)
    return i18n.t("periods.name_month", lang, year=year, month=start.month)


def part_label(part: str, lang: str = i18n.DEFAULT) -> str:
    if part[:1].isdigit():
        return i18n.t("periods.part_month", lang, month=int(part))
    return i18n.t(f"periods.part_{part.lower()}", lang)


def code_of(year_text: str, part: str, lang: str = i18n.DEFAULT) -> str:
    """The period code of the add form's two fields; a bad one is named beside its field."""
    errors: dict[str, str] = {}
    text = (year_text or "").strip()
    if not text:
        errors["year"] = i18n.t("periods.err_year_required", lang)
    elif not (text.isascii() and text.isdigit()) or not YEARS[0] <= int(text) <= YEARS[1]:
        errors["year"] = i18n.t("periods.err_year", lang, value=text[:20], low=YEARS[0],
                                high=YEARS[1])
    if part not in PARTS:
        errors["part"] = i18n.t("periods.err_part", lang)
    if errors:
        raise FieldsInvalid(errors)
    if part == "year":
        return text
    return f"{text}-{part}" if part.isdigit() else f"{text}{part}"


async def listing() -> list[Period]:
    """Newest first; of periods ending together, the longer one first (2014 before 2014Q4)."""
    rows = list(await Period.all())
    return sorted(rows, key=lambda p: (p.end, p.end - p.start), reverse=True)


async def get(code: str, lang: str = i18n.DEFAULT) -> Period:
    period = await Period.get_or_none(code=code)
    if period is None:
        raise NotFound("unknown_period", i18n.t("periods.not_found", lang, code=code[:20]),
                       field="period")
    return period


async def add(year_text: str, part: str, lang: str = i18n.DEFAULT) -> Period:
    """A new open period; one that exists already is named beside the fields."""
    code = code_of(year_text, part, lang)
    kind, start, end = parse_period(code)
    async with in_transaction():
        if await Period.exists(code=code):
            raise FieldsInvalid({"part": i18n.t("periods.err_exists", lang,
                                                name=name(code, lang))})
        period = await Period.create(code=code, kind=kind, start=start, end=end, status="open")
        await audit.record("period.create", "period", code, after=audit.snapshot(period))
    return period


@dataclass(frozen=True)
class Change:
    """What closing or reopening a period will do, shown before the admin confirms."""

    period: Period
    action: str  # close | reopen
    not_over: bool  # closing before the period's last day


async def plan(code: str, action: str, lang: str = i18n.DEFAULT) -> Change:
    period = await get(code, lang)
    if action == "close" and period.is_closed:
        raise Conflict("period_closed", i18n.t("periods.err_already_closed", lang,
                                               name=name(period, lang)), field="period")
    if action == "reopen" and not period.is_closed:
        raise Conflict("period_open", i18n.t("periods.err_already_open", lang,
                                             name=name(period, lang)), field="period")
    return Change(period, action, action == "close" and clock.today() <= period.end)


async def set_status(code: str, action: str, reason: str = "",
                     lang: str = i18n.DEFAULT) -> Period:
    """Close (`close`) or open again (`reopen`); the status is checked under the write."""
    closing = action == "close"
    async with in_transaction():
        change = await plan(code, action, lang)
        period = change.period
        before = {"status": period.status, "closed_at": period.closed_at}
        changed = await Period.filter(id=period.id, status=period.status).update(
            status="closed" if closing else "open", closed_at=clock.now() if closing else None)
        if not changed:  # another admin changed it between the read and the write
            raise Conflict("period_changed", i18n.t("periods.err_changed", lang))
        period = await Period.get(id=period.id)
        await audit.record("period.close" if closing else "period.reopen", "period", code,
                           before=before, after={"status": period.status,
                                                 "closed_at": period.closed_at},
                           reason=reason.strip()[:500])
    return period
