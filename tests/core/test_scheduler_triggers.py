"""Cron rules: crontab weekday numbers, seconds, and per-job overrides from settings."""

import datetime as dt
import re

import pytest

from core.scheduler import collect_jobs, make_trigger

SH = dt.timezone(dt.timedelta(hours=8))


def next_fire(rule: str, after: dt.datetime) -> dt.datetime:
    return make_trigger(rule, "Asia/Shanghai").get_next_fire_time(None, after)


def test_crontab_weekdays_mean_what_crontab_means():
    friday = dt.datetime(2026, 11, 27, 12, 0, tzinfo=SH)
    assert next_fire("0 8 * * 1", friday).date() == dt.date(2026, 11, 30)  # Monday
    assert next_fire("0 8 * * 0", friday).date() == dt.date(2026, 11, 29)  # Sunday
    assert next_fire("0 8 * * 7", friday).date() == dt.date(2026, 11, 29)  # Sunday again
    assert next_fire("0 8 * * 1-5", friday).date() == dt.date(2026, 11, 30)


def test_six_fields_put_seconds_first():
    t0 = dt.datetime(2026, 11, 27, 12, 0, 1, tzinfo=SH)
    assert next_fire("*/5 * * * * *", t0) == dt.datetime(2026, 11, 27, 12, 0, 5, tzinfo=SH)


@pytest.mark.parametrize("rule, message", [
    ("0 8 * *", "expected 5 fields"),
    ("61 8 * * *", "cron rule '61 8 * * *'"),
])
def test_bad_rules_are_named(rule, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make_trigger(rule, "Asia/Shanghai")


def test_settings_override_a_jobs_rule_and_unknown_ids_are_named(settings, host):
    settings.core.scheduler.triggers = {"core.mail": "*/2 * * * * *"}
    jobs = collect_jobs(settings, host)
    assert jobs["core.mail"].trigger == "*/2 * * * * *"
    settings.core.scheduler.triggers = {"core.nosuch": "* * * * *"}
    with pytest.raises(ValueError, match="scheduler.triggers: no job named core.nosuch"):
        collect_jobs(settings, host)
