"""The platform clock: one source of now/today, pinnable, timezone from settings only."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from core import clock
from core.boot import boot
from core.settings import SettingsError
from tests.conftest import write_settings

ROOT = Path(__file__).resolve().parents[2]
DIRECT = re.compile(r"datetime\.now\(|date\.today\(|datetime\.utcnow\(|ZoneInfo\(\"Asia/Shanghai\"\)")


def test_no_direct_clock_reads_outside_core_clock():
    offenders = []
    for path in [*ROOT.joinpath("core").rglob("*.py"), *ROOT.joinpath("plugins").rglob("*.py")]:
        if path.name == "clock.py" and path.parent.name == "core":
            continue
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if DIRECT.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{no}: {line.strip()}")
    assert offenders == []


def test_pinned_day_keeps_time_of_day_and_zone():
    try:
        clock.configure("Asia/Shanghai", "2014-12-31")
        assert clock.today() == dt.date(2014, 12, 31)
        assert clock.pinned() == dt.date(2014, 12, 31)
        assert clock.local_now().date() == dt.date(2014, 12, 31)
        assert clock.now().tzinfo is dt.UTC
        clock.travel(dt.date(2014, 3, 2))
        assert clock.today() == dt.date(2014, 3, 2)
    finally:
        clock.configure("Asia/Shanghai", None)
    assert clock.pinned() is None
    assert abs((clock.now() - dt.datetime.now(dt.UTC)).total_seconds()) < 5


def test_timezone_comes_from_settings(tmp_path):
    path = write_settings(tmp_path, "sqlite://:memory:")
    try:
        boot(str(path), environ={"KAOHE_APP__TIMEZONE": "Europe/Berlin"})
        assert clock.tz().key == "Europe/Berlin"
        with pytest.raises(SettingsError, match="app.timezone: unknown timezone 'Mars/Base'"):
            boot(str(path), environ={"KAOHE_APP__TIMEZONE": "Mars/Base"})
    finally:
        clock.configure("Asia/Shanghai")


@pytest.mark.parametrize("value, message", [
    ("2014-13-01", "settings: app.today: '2014-13-01' is not a date (yyyy-mm-dd)"),
    ("yesterday", "settings: app.today: 'yesterday' is not a date (yyyy-mm-dd)"),
])
def test_bad_pinned_day_is_a_start_up_error(tmp_path, value, message):
    path = write_settings(tmp_path, "sqlite://:memory:")
    with pytest.raises(SettingsError) as err:
        boot(str(path), environ={"KAOHE_APP__TODAY": value})
    assert str(err.value) == message
    clock.configure("Asia/Shanghai")


def test_pinned_day_from_environment(tmp_path):
    path = write_settings(tmp_path, "sqlite://:memory:")
    try:
        boot(str(path), environ={"KAOHE_APP__TODAY": '"2014-06-30"'})
        assert clock.today() == dt.date(2014, 6, 30)
        boot(str(path), environ={"KAOHE_APP__TODAY": "2014-07-01"})  # a bare TOML date
        assert clock.today() == dt.date(2014, 7, 1)
    finally:
        clock.configure("Asia/Shanghai")
