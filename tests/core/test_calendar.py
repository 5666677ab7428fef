"""Working days: the State Council schedule with make-up days, the Monday–Friday fallback for an
unknown year (logged and on the admin dashboard), and loading a year from TOML (CLI and page)."""

from __future__ import annotations

import datetime as dt
import logging
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.audit import AuditEntry
from core.calendar import WorkCalendar
from core.calendar_models import CalendarDay
from tests.conftest import login, make_user, with_db

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "docs" / "calendar-2027.example.toml"
D = dt.date


def weekdays_between(a: dt.date, b: dt.date) -> int:
    """Plain Monday–Friday count in (a, b]: what a calendar without holidays would say."""
    return sum((a + dt.timedelta(days=i)).weekday() < 5 for i in range(1, (b - a).days + 1))


# -- the known years (2026 from the State Council notice) --------------------------------------

def test_make_up_workdays_on_weekends():
    cal = WorkCalendar()
    assert D(2026, 10, 10).weekday() == 5 and cal.is_workday(D(2026, 10, 10))  # Saturday, 调休
    assert D(2026, 9, 20).weekday() == 6 and cal.is_workday(D(2026, 9, 20))  # Sunday, 调休
    assert not cal.is_workday(D(2026, 10, 11))  # an ordinary Sunday


def test_national_day_week_is_off_including_its_weekdays():
    cal = WorkCalendar()
    week = [D(2026, 10, d) for d in range(1, 8)]
    assert [cal.is_workday(d) for d in week] == [False] * 7
    assert {d.weekday() for d in week} == set(range(7))  # Monday to Friday among them
    assert cal.is_workday(D(2026, 9, 30)) and cal.is_workday(D(2026, 10, 8))


def test_deadlines_count_across_the_national_day_holiday():
    cal = WorkCalendar()
    start = D(2026, 9, 30)
    assert cal.add_working_days(start, 1) == D(2026, 10, 8)
    assert cal.add_working_days(start, 3) == D(2026, 10, 10)  # the make-up Saturday counts
    assert cal.add_working_days(start, 4) == D(2026, 10, 12)
    assert cal.working_days_between(start, D(2026, 10, 12)) == 4
    assert weekdays_between(start, D(2026, 10, 12)) == 8  # what Monday–Friday would say
    assert cal.working_days_between(D(2026, 10, 12), start) == -4
    # Mid-Autumn Friday 2026-09-25: one working day after Thursday is the next Monday.
    assert cal.add_working_days(D(2026, 9, 24), 1) == D(2026, 9, 28)
    assert cal.first_workday_of_month(2026, 10) == D(2026, 10, 8)


# -- an unknown year ------------------------------------------------------------------------------

class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def calendar_log():
    handler = _Records()
    logger = logging.getLogger("kaohe.calendar")
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)


def test_unknown_year_falls_back_to_monday_to_friday_and_warns_once(calendar_log):
    cal = WorkCalendar()
    assert not cal.is_known(2027)
    assert cal.is_workday(D(2027, 1, 1))  # a Friday; surely a holiday, but not known
    assert not cal.is_workday(D(2027, 1, 2))
    assert cal.working_days_between(D(2026, 12, 31), D(2027, 1, 8)) == weekdays_between(
        D(2026, 12, 31), D(2027, 1, 8))
    warnings = [m for m in calendar_log if "2027" in m]
    assert len(warnings) == 1 and "kaohe calendar load" in warnings[0]


# -- loading a year: CLI --------------------------------------------------------------------------

def _cli(settings, *args):
    from core.cli import cli
    from core.commands import register_core_commands

    register_core_commands(cli)
    return CliRunner().invoke(cli, ["--settings", str(settings.source), *args])


def test_cli_load_makes_the_year_known_and_changes_counts(settings):
    fallback = WorkCalendar()
    span = (D(2027, 9, 30), D(2027, 10, 11))
    r = _cli(settings, "calendar", "load", str(SAMPLE))
    assert r.exit_code == 0 and "365 days loaded" in r.output, r.output

    async def check():
        cal = await WorkCalendar.load()
        entry = await AuditEntry.get(action="calendar.load")
        return cal, entry

    cal, entry = with_db(settings, check)
    assert cal.is_known(2027) and not cal.fallback_years
    assert not cal.is_workday(D(2027, 1, 1)) and not cal.is_workday(D(2027, 10, 4))
    assert cal.is_workday(D(2027, 10, 9))  # the sample's make-up Saturday
    assert cal.is_workday(D(2027, 3, 3)) and not cal.is_workday(D(2027, 3, 6))  # plain days
    # National Day week: Oct 1-7 off, Oct 8 and Sat Oct 9 and Mon Oct 11 worked.
    assert cal.working_days_between(*span) == 3
    assert fallback.working_days_between(*span) == weekdays_between(*span) == 7
    assert cal.add_working_days(D(2027, 9, 30), 2) == D(2027, 10, 9)
    assert entry.actor == "cli"


@pytest.mark.parametrize("text, key", [
    ('year = "2027"\n[[holidays]]\nname = "x"\ndays = [2027-01-01]\n', "year"),
    ('year = 2027\n[[holidays]]\nname = "元旦"\ndays = ["2027-01-01"]\n', "holidays[0].days[0]"),
    ('year = 2027\n[[holidays]]\nname = "元旦"\ndays = [2027-01-01, 2026-12-31]\n',
     "holidays[0].days[1]"),
    ('year = 2027\n[[workdays]]\nname = "调休"\nday = 2028-01-01\n', "workdays[0].day"),
    ('year = 2027\n[[workdays]]\nname = "调休"\n', "workdays[0].day"),
    ('year = 2027\nname = "unterminated\n', "line 2"),  # not TOML: the parser names the line
])
def test_cli_load_rejects_a_bad_schedule_naming_the_key(settings, tmp_path, text, key):
    bad = tmp_path / "bad.toml"
    bad.write_text(text, encoding="utf-8")
    r = _cli(settings, "calendar", "load", str(bad))
    assert r.exit_code == 2, r.output
    assert key in r.output
    assert with_db(settings, lambda: CalendarDay.all().count()) == 0


# -- loading a year: the admin page, and the dashboard warning ----------------------------------

async def _admin(client) -> str:
    await make_user("root", "admin")
    return await login(client, "root")


def _expected_warnings(cal: WorkCalendar) -> list[int]:
    today = dt.date.today()
    return [y for y in (today.year, today.year + 1) if not cal.is_known(y)]


async def test_dashboard_warns_admins_about_unknown_years_until_loaded(client):
    year = dt.date.today().year + 1
    csrf = await _admin(client)
    cal = await WorkCalendar.load()
    r = await client.get("/")
    for y in (dt.date.today().year, year):
        assert (f"{y}年节假日安排未载入" in r.text) == (y in _expected_warnings(cal))
    # A leader sees no calendar warning: it is the admins' job.
    await make_user("lead", "leader")
    client.cookies.clear()
    await login(client, "lead")
    assert "节假日安排未载入" not in (await client.get("/")).text
    client.cookies.clear()
    csrf = await login(client, "root")
    text = SAMPLE.read_text(encoding="utf-8").replace("2027", str(year))
    r = await client.post("/calendar", data={"_csrf": csrf, "text": text},
                          files={"unused": ("x", b"")})
    assert r.status_code in (302, 303), r.text
    r = await client.get("/")
    assert f"{year}年节假日安排未载入" not in r.text


async def test_page_upload_loads_the_year_and_is_audited(client):
    csrf = await _admin(client)
    r = await client.get("/calendar")
    assert 'data-year="2027" data-state="fallback"' in r.text
    before = (await WorkCalendar.load()).working_days_between(D(2027, 9, 30), D(2027, 10, 11))
    r = await client.post("/calendar", data={"_csrf": csrf},
                          files={"file": ("calendar-2027.toml", SAMPLE.read_bytes())})
    assert r.status_code in (302, 303), r.text
    page = await client.get(r.headers["location"])
    assert 'data-year="2027" data-state="loaded"' in page.text
    sample = tomllib.loads(SAMPLE.read_text(encoding="utf-8"))
    days_off = sum(len(h["days"]) for h in sample["holidays"])
    assert "2027-10-09" in page.text and f"放假 {days_off} 天" in page.text
    after = (await WorkCalendar.load()).working_days_between(D(2027, 9, 30), D(2027, 10, 11))
    assert (before, after) == (7, 3)
    entry = await AuditEntry.get(action="calendar.load")
    assert entry.object_id == "2027" and entry.actor == "root" and entry.before is None
    assert "2027-10-09" in entry.after["workdays"] and "2027-10-01" in entry.after["holidays"]


async def test_page_reload_replaces_only_that_year(client):
    csrf = await _admin(client)
    text = SAMPLE.read_text(encoding="utf-8")
    for body in (text, text.replace("2027", "2028").replace("2028-02-05, ", "")):
        r = await client.post("/calendar", data={"_csrf": csrf, "text": body},
                              files={"unused": ("x", b"")})
        assert r.status_code in (302, 303), r.text
    smaller = text.replace('[[holidays]]\nname = "中秋节"\ndays = [2027-09-15]\n', "")
    r = await client.post("/calendar", data={"_csrf": csrf, "text": smaller},
                          files={"unused": ("x", b"")})
    assert r.status_code in (302, 303)
    cal = await WorkCalendar.load()
    assert cal.is_workday(D(2027, 9, 15)) and not cal.is_workday(D(2027, 10, 1))
    assert not cal.is_workday(D(2028, 10, 2)) and cal.loaded_years() == {2027, 2028}
    assert await CalendarDay.all().count() == 365 + 366
    second = await AuditEntry.filter(action="calendar.load", object_id="2027").order_by("-id").first()
    assert "2027-09-15" in second.before["holidays"]
    assert "2027-09-15" not in second.after["holidays"]


@pytest.mark.parametrize("text, key", [
    ('year = 2027\nholliday = []\n[[holidays]]\nname = "x"\ndays = [2027-01-01]\n', "holliday"),
    ('year = 2027\n[[holidays]]\nname = "x"\ndayz = [2027-01-01]\n', "holidays[0].dayz"),
    ('year = 2027\n[[holidays]]\nname = "x"\n', "holidays[0].days"),
    ('year = 2027\n[[workdays]]\nname = "x"\nday = 2027-01-09\n', "holidays"),
    ('year = 2027\n[[holidays]]\nname = "x"\ndays = [2027-01-01]\n'
     '[[workdays]]\nname = "y"\nday = 2027-01-01\n', "2027-01-01"),
    ('year = 2027\n[[holidays]]\nname = "元旦"\ndays = ["2027-01-01"]\n', "holidays[0].days[0]"),
    ('year = "2027"\n', "year"),
    ('year = 2027\nname = "unterminated\n', "line 2"),
])
async def test_page_rejects_a_bad_schedule_and_keeps_the_old_one(client, text, key):
    csrf = await _admin(client)
    r = await client.post("/calendar", data={"_csrf": csrf},
                          files={"file": ("calendar-2027.toml", SAMPLE.read_bytes())})
    assert r.status_code in (302, 303)
    days = await CalendarDay.all().values_list("day", "is_workday")
    entries = await AuditEntry.filter(action="calendar.load").count()
    r = await client.post("/calendar", data={"_csrf": csrf},
                          files={"file": ("bad.toml", text.encode())})
    assert r.status_code == 422
    assert key in r.text and 'id="calendar-error"' in r.text
    assert await CalendarDay.all().values_list("day", "is_workday") == days
    assert await AuditEntry.filter(action="calendar.load").count() == entries


async def test_page_needs_admin_and_csrf(client):
    csrf = await _admin(client)
    r = await client.post("/calendar", files={"file": ("c.toml", SAMPLE.read_bytes())})
    assert r.status_code == 403 and await CalendarDay.all().count() == 0
    r = await client.get("/calendar", params={"start": "2026-09-30", "days": "3"})
    assert 'id="calendar-result"' in r.text and "2026-10-10" in r.text
    await make_user("ins", "instructor")
    client.cookies.clear()
    csrf = await login(client, "ins")
    r = await client.post("/calendar", data={"_csrf": csrf},
                          files={"file": ("c.toml", SAMPLE.read_bytes())},
                          headers={"accept": "application/json"})
    assert r.status_code == 403 and await CalendarDay.all().count() == 0
