"""Scheduled checks, indicator sources and the plugin's contributions."""

import datetime as dt

from core.notify_models import InboxMessage
from core.orgs import Period
from core.plugins import get_host
from core.scheduler import collect_jobs
from plugins.coverage import jobs
from plugins.coverage.models import PeriodFreeze
from plugins.coverage.reporting import submit_one
from tests.conftest import make_user
from tests.plugins.coverage.world import build_world


async def test_monthly_should_establish_scan_notifies_admins_and_the_community(db):
    await build_world()
    boss = await make_user("boss", "admin")
    hgy = await make_user("hgy", "unit_officer", unit_code="520102001")
    district = await make_user("nm", "unit_officer", unit_code="520102")
    ql = await make_user("ql", "unit_officer", unit_code="520103001")
    result = await jobs.scan_should_establish(on=dt.date(2014, 9, 1))
    assert result["period"] == "2014Q3" and result["organizations"] == 3
    admin_msg = await InboxMessage.get(user=boss)
    assert "3" in admin_msg.subject and "520102001" in admin_msg.body
    hgy_msg = await InboxMessage.get(user=hgy)
    assert "组织E4" in hgy_msg.body and "组织S3" in hgy_msg.body and "组织E7" not in hgy_msg.body
    assert "组织E7" in (await InboxMessage.get(user=ql)).body
    assert not await InboxMessage.filter(user=district).exists()
    again = await jobs.scan_should_establish(on=dt.date(2014, 9, 20))
    assert again["notified"] == 0  # once a month
    await jobs.scan_should_establish(on=dt.date(2014, 10, 2))  # next month: Q4, told again
    assert await InboxMessage.filter(user=boss).count() == 2


async def test_reminders_go_out_n_working_days_before_the_end_once_per_instructor(db):
    w = await build_world()
    await submit_one(w["people"]["li"], "2014Q3", {
        "uscc": w["orgs"]["S2"].uscc, "party_members": 1, "formal_members": 1,
        "probationary_members": 0})
    # 2014-09-20: eight working days left (28 September is a make-up workday): too early.
    assert (await jobs.send_reminders(on=dt.date(2014, 9, 20)))["notified"] == 0
    # 2014-09-24: five working days left (25, 26, 28, 29, 30).
    result = await jobs.send_reminders(on=dt.date(2014, 9, 24))
    assert result == {"periods": ["2014Q3"], "notified": 2}
    zhang = await InboxMessage.get(user=w["people"]["zhang"])
    assert zhang.digest and "2" in zhang.subject and "组织E4" in zhang.body and "组织E8" in zhang.body
    li = await InboxMessage.get(user=w["people"]["li"])
    assert "组织E1" in li.body and "组织S2" not in li.body  # S2 is reported
    assert not await InboxMessage.filter(user=w["people"]["wang"]).exists()
    assert (await jobs.send_reminders(on=dt.date(2014, 9, 25)))["notified"] == 0  # once
    assert (await jobs.send_reminders(on=dt.date(2014, 10, 1)))["periods"] == []  # Q3 is over


async def test_freeze_job_and_job_ids(db, settings):
    await build_world()
    result = await jobs._freeze(None)
    assert sorted(result["frozen"]) == ["2013", "2014Q1", "2014Q2"]
    assert await PeriodFreeze.filter(period_code="2014Q1").exists()
    await Period.filter(code="2014Q3").update(status="closed")
    assert (await jobs._freeze(None))["frozen"] == ["2014Q3"]
    ids = [j for j in collect_jobs(settings, get_host()) if j.startswith("coverage.")]
    assert sorted(ids) == ["coverage.freeze_closed_periods", "coverage.report_reminders",
                           "coverage.should_establish_scan"]


async def test_indicator_sources_give_each_units_subtree(db):
    w = await build_world()
    sources = {s.key: s for _, s in get_host().collect("kaohe_indicator_sources")
               if s.key.startswith("coverage.")}
    assert sorted(sources) == ["coverage.org_rate", "coverage.report_compliance",
                               "coverage.should_establish", "coverage.work_rate"]
    assert not sources["coverage.should_establish"].higher_is_better
    codes = ["520100", "520102", "520103", "520111"]
    assert await sources["coverage.org_rate"].values("2014Q3", codes) == {
        "520100": 58.33, "520102": 55.56, "520103": 66.67, "520111": None}
    assert await sources["coverage.work_rate"].values("2014Q3", codes) == {
        "520100": 83.33, "520102": 77.78, "520103": 100.0, "520111": None}
    assert await sources["coverage.should_establish"].values("2014Q3", codes) == {
        "520100": 3.0, "520102": 2.0, "520103": 1.0, "520111": None}
    await submit_one(w["people"]["zhang"], "2014Q3", {
        "uscc": w["orgs"]["E8"].uscc, "party_members": 0, "formal_members": 0,
        "probationary_members": 0})
    # Organizations with an instructor: 南明 E1, E4, S2 (none reported); 云岩 E8 (reported).
    assert await sources["coverage.report_compliance"].values("2014Q3", codes) == {
        "520100": 25.0, "520102": 0.0, "520103": 100.0, "520111": None}


async def test_current_reporting_period(db):
    from plugins.coverage.services import current_report_period

    await build_world()  # quarters: Q1, Q2 closed; Q3, Q4 open
    assert (await current_report_period(dt.date(2014, 8, 1))).code == "2014Q3"
    assert (await current_report_period(dt.date(2014, 11, 1))).code == "2014Q4"
    # Both over: the earlier one still waits for its reports.
    assert (await current_report_period(dt.date(2026, 1, 5))).code == "2014Q3"
    assert (await current_report_period(dt.date(2014, 2, 1))).code == "2014Q3"  # next to begin
    await Period.filter(code__in=["2014Q3", "2014Q4"]).update(status="closed")
    assert await current_report_period(dt.date(2014, 8, 1)) is None
