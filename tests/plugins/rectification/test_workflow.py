"""The six-step workflow at service level: every transition allowed and refused."""

from __future__ import annotations

import datetime as dt

import pytest

from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.orgs import PeriodClosedError
from plugins.rectification.models import Evidence, ExtensionRequest, Task, TaskEvent
from plugins.rectification.workflow import RULES, act, allowed_actions
from tests.plugins.rectification.conftest import PDF, at, dispatched, new_task, row, step

pytestmark = pytest.mark.usefixtures("db")


async def responded(people, settings, day="2026-10-09", **over):
    task = await dispatched(people, **over)
    return await step(people, task, "respond", who="nm_comm", day=day, note="已修复",
                      files=[("photo.pdf", PDF)], settings=settings)


async def test_full_path_with_a_failed_verification(people, settings, heard):
    task = await new_task(people)
    assert task.number == f"ZG2026-{task.id:06d}" and task.status == "registered"
    task = await step(people, task, "assess", severity="serious", reason="属实")
    assert (task.status, task.severity) == ("assessed", "serious")
    task = await step(people, task, "dispatch")
    assert task.status == "dispatched" and task.deadline > dt.date(2026, 9, 30)
    task = await step(people, task, "respond", who="nm_comm", day="2026-10-09", note="已修复",
                      files=[("修复照片.pdf", PDF)], settings=settings)
    assert task.status == "responded"
    task = await step(people, task, "verify", day="2026-10-12", passed=False, reason="未彻底修复")
    assert (task.status, task.fail_count) == ("dispatched", 1)
    assert task.deadline == dt.date(2026, 10, 26)  # serious: 10 working days from 10-12
    assert [e.key for e in heard] == [f"rectification.verification_failed:{task.id}:1"]
    assert heard[0].payload["fail_count"] == 1 and heard[0].payload["reason"] == "未彻底修复"
    task = await step(people, task, "respond", who="nm", day="2026-10-14", note="再次修复",
                      files=[("photo2.png", b"\x89PNG\r\n\x1a\nrest")], settings=settings)
    task = await step(people, task, "verify", day="2026-10-15", passed=True, reason="")
    assert task.status == "closed" and not task.closed_late
    assert task.days_to_close == 7  # working days in (09-30, 10-15]: 8, 9, 10 (调休), 12–15
    task = await step(people, task, "evaluate", day="2026-10-16", satisfaction=92, comment="满意")
    assert (task.status, task.satisfaction) == ("evaluated", 92)
    actions = [e.action for e in await TaskEvent.filter(task_id=task.id).order_by("id")]
    assert actions == ["register", "assess", "dispatch", "respond", "verify", "respond",
                       "verify", "evaluate"]
    assert await Evidence.filter(task_id=task.id, attached=True).count() == 2
    from core.audit import AuditEntry, verify

    entries = await AuditEntry.filter(object_id=task.number).values_list("action", flat=True)
    assert entries.count("rectification.verify") == 2
    assert (await verify())[1] is None


async def test_second_failure_is_announced_with_its_count(people, settings, heard):
    task = await responded(people, settings)
    task = await step(people, task, "verify", day="2026-10-12", passed=False, reason="一")
    task = await step(people, task, "respond", who="nm_comm", day="2026-10-13", note="x",
                      files=[("a.pdf", PDF)], settings=settings)
    task = await step(people, task, "verify", day="2026-10-14", passed=False, reason="二",
                      deadline="2026-10-20")
    assert task.fail_count == 2 and task.deadline == dt.date(2026, 10, 20) and task.deadline_manual
    assert [e.key.rsplit(":", 1)[1] for e in heard] == ["1", "2"]
    assert heard[1].payload | {"task_no": task.number, "fail_count": 2, "unit_code": "520102001",
                               "period": "2026"} == heard[1].payload


# every (action, status) pair that the rules do not allow is refused with 409, row unchanged
REACH = {
    "registered": [],
    "assessed": [("assess", "admin", {})],
    "rejected": [("reject", "admin", {"reason": "不属实"})],
    "dispatched": [("assess", "admin", {}), ("dispatch", "admin", {})],
    "responded": [("assess", "admin", {}), ("dispatch", "admin", {}),
                  ("respond", "nm", {"note": "ok"})],
    "closed": [("assess", "admin", {}), ("dispatch", "admin", {}),
               ("respond", "nm", {"note": "ok"}), ("verify", "admin", {"passed": True})],
    "evaluated": [("assess", "admin", {}), ("dispatch", "admin", {}),
                  ("respond", "nm", {"note": "ok"}), ("verify", "admin", {"passed": True}),
                  ("evaluate", "admin", {"satisfaction": 80})],
}
DATA = {"assess": {}, "reject": {"reason": "r"}, "dispatch": {},
        "set_deadline": {"deadline": "2026-12-01", "reason": "r"}, "respond": {"note": "n"},
        "request_extension": {"reason": "r", "requested_deadline": "2026-10-14"},
        "decide_extension": {"approve": True}, "verify": {"passed": True},
        "evaluate": {"satisfaction": 90}}


async def _reach(people, settings, status):
    task = await new_task(people)
    for action, who, data in REACH[status]:
        files = [("e.pdf", PDF)] if action == "respond" else None
        task = await step(people, task, action, who=who, files=files, settings=settings, **data)
    assert task.status == status
    return task


@pytest.mark.parametrize("status", list(REACH))
async def test_transitions_refused_from_the_wrong_state(people, settings, status):
    task = await _reach(people, settings, status)
    for action, rule in RULES.items():
        if status in rule.from_states:
            continue
        who = "admin" if rule.role == "admin" else "nm"
        before = await row(task.id)
        with pytest.raises(Conflict) as exc:
            await step(people, task, action, who=who, settings=settings, **DATA[action])
        assert exc.value.code == "transition_not_allowed", (status, action)
        allowed = allowed_actions(task, "")
        assert exc.value.details["allowed"] == allowed
        assert f"'{status}'" in exc.value.message and "allowed next steps" in exc.value.message
        assert await row(task.id) == before


@pytest.mark.parametrize("action", list(RULES))
async def test_each_transition_refused_for_the_wrong_role(people, settings, action):
    rule = RULES[action]
    task = await _reach(people, settings, rule.from_states[0])
    before = await row(task.id)
    for who in ("leader", "instructor", "nm" if rule.role == "admin" else "admin"):
        with pytest.raises(Forbidden) as exc:
            await step(people, task, action, who=who, settings=settings, **DATA[action])
        assert exc.value.code == "role_not_allowed"
        assert rule.role in exc.value.message and people[who].role in exc.value.message
    assert await row(task.id) == before


async def test_unit_officer_of_another_unit_is_refused(people, settings):
    task = await dispatched(people)
    before = await row(task.id)
    with pytest.raises(NotFound) as exc:  # answered like a missing task: its unit is not named
        await step(people, task, "respond", who="yy", note="x", files=[("a.pdf", PDF)],
                   settings=settings)
    assert exc.value.code == "task_not_found" and task.unit.name not in exc.value.message
    assert await row(task.id) == before
    assert await Evidence.filter(task_id=task.id).count() == 0
    # the officer of the parent district may act on the community's task
    task = await step(people, task, "respond", who="nm", note="ok", files=[("a.pdf", PDF)],
                      settings=settings)
    assert task.status == "responded"


async def test_stale_version_gets_409_telling_what_changed(people, settings):
    task = await new_task(people)
    await step(people, task, "assess", reason="first")  # task (version 1) is now stale
    before = await row(task.id)
    with pytest.raises(Conflict) as exc:
        await step(people, task, "reject", reason="second")
    err = exc.value
    assert err.code == "stale_version"
    assert err.details["current_version"] == 2 and err.details["your_version"] == 1
    assert err.details["status"] == "assessed"
    assert err.details["last_change"]["actor"] == "admin1"
    assert err.details["last_change"]["action"] == "assess"
    assert "admin1" in err.message and "'assessed'" in err.message
    assert await row(task.id) == before


async def test_missing_version_is_refused(people):
    task = await new_task(people)
    with pytest.raises(Invalid) as exc:
        await act(task.id, "assess", people["admin"], {})
    assert exc.value.field == "version"


async def test_closed_period_refuses_every_write(people, settings):
    from core.orgs import Period

    task = await new_task(people)
    await Period.filter(code="2026").update(status="closed")
    before = await row(task.id)
    with pytest.raises(PeriodClosedError):
        await step(people, task, "assess")
    assert await row(task.id) == before
    from plugins.rectification.workflow import register

    with pytest.raises(PeriodClosedError):
        await register(people["admin"], {"period": "2026", "source": "grid", "category": "general",
                                         "severity": "urgent", "title": "t", "unit": "520102"})
    assert await Task.all().count() == 1


async def test_registration_bad_input_names_the_field(people):
    from plugins.rectification.workflow import register

    base = {"period": "2026", "source": "grid", "category": "general", "severity": "urgent",
            "title": "t", "unit": "520102"}
    for key, value in (("source", "email"), ("category", "nope"), ("severity", "minor"),
                       ("unit", "999"), ("period", "2030"), ("title", "")):
        with pytest.raises(Invalid) as exc:
            await register(people["admin"], {**base, key: value})
        assert exc.value.field == key and key in exc.value.message
    with pytest.raises(Forbidden):
        await register(people["nm"], base)
    assert await Task.all().count() == 0


async def test_deadline_across_national_day_with_make_up_workday(people):
    # urgent = 3 working days from Wed 2026-09-30: Oct 1–7 are holidays, then Thu 8, Fri 9 and
    # Saturday 10 (a make-up workday, 调休) → deadline 2026-10-10.
    task = await dispatched(people, day="2026-09-30", severity="urgent")
    assert task.deadline == dt.date(2026, 10, 10)
    task = await dispatched(people, day="2026-09-30", severity="general")
    assert task.deadline == dt.date(2026, 11, 3)  # 20 working days, 10-10 counted, 10-11 not


async def test_deadline_table_by_category_from_the_definition(people, host):
    from core import assessments

    text = """
[assessment]
slug = "t"
title = "t"
year = 2026
[[periods]]
code = "2026"
[rectification]
categories = [{ code = "general", name = "综合" }, { code = "safety", name = "安全" }]
[rectification.deadline_days]
urgent = 5
serious = 10
general = 20
safety = { urgent = 1 }
"""
    await assessments.apply(text, host)
    assert (await dispatched(people, severity="urgent")).deadline == dt.date(2026, 10, 13)
    assert (await dispatched(people, severity="urgent", category="safety")).deadline == \
        dt.date(2026, 10, 8)


async def test_hand_set_deadline_needs_reason_and_not_before_registration(people):
    task = await new_task(people, registered="2026-09-29")
    task = await step(people, task, "assess")
    before = await row(task.id)
    with pytest.raises(Invalid) as exc:
        await step(people, task, "dispatch", deadline="2026-09-28", reason="backdated")
    assert exc.value.code == "deadline_before_registration" and exc.value.field == "deadline"
    with pytest.raises(Invalid) as exc:
        await step(people, task, "dispatch", deadline="2026-11-30")
    assert exc.value.field == "reason"
    with pytest.raises(Invalid) as exc:
        await step(people, task, "dispatch", deadline="30/11/2026", reason="x")
    assert exc.value.code == "invalid_date"
    assert await row(task.id) == before
    task = await step(people, task, "dispatch", deadline="2026-09-29", reason="当日整改")
    assert task.deadline == dt.date(2026, 9, 29) and task.deadline_manual
    task = await step(people, task, "set_deadline", deadline="2026-11-30", reason="领导批示")
    assert task.deadline == dt.date(2026, 11, 30)
    with pytest.raises(Invalid):
        await step(people, task, "set_deadline", deadline="2026-01-01", reason="x")


async def test_extensions_limited_by_the_definition(people, settings):
    task = await dispatched(people, severity="urgent")  # deadline 2026-10-10
    before = await row(task.id)
    with pytest.raises(Invalid) as exc:  # not later than the current deadline
        await step(people, task, "request_extension", who="nm", reason="r",
                   requested_deadline="2026-10-10")
    assert exc.value.code == "extension_not_later"
    with pytest.raises(Invalid) as exc:  # more than 20 working days after the deadline
        await step(people, task, "request_extension", who="nm", reason="r",
                   requested_deadline="2026-12-31")
    assert exc.value.code == "extension_too_long" and "2026-11-06" in exc.value.message
    with pytest.raises(Invalid) as exc:
        await step(people, task, "request_extension", who="nm", reason="",
                   requested_deadline="2026-10-20")
    assert exc.value.field == "reason"
    assert await row(task.id) == before and await ExtensionRequest.all().count() == 0

    task = await step(people, task, "request_extension", who="nm", day="2026-10-08",
                      reason="材料未到", requested_deadline="2026-10-20",
                      files=[("申请.pdf", PDF)], settings=settings)
    with pytest.raises(Conflict):  # one pending request at a time
        await step(people, task, "request_extension", who="nm", day="2026-10-08", reason="again",
                   requested_deadline="2026-10-21")
    with pytest.raises(Forbidden):  # deciding is the admin's, not the unit's
        await step(people, task, "decide_extension", who="nm", approve=True)
    task = await step(people, task, "decide_extension", day="2026-10-09", approve=True,
                      reason="同意")
    assert task.deadline == dt.date(2026, 10, 20) and task.extension_count == 1
    task = await step(people, task, "request_extension", who="nm", day="2026-10-12", reason="2",
                      requested_deadline="2026-10-23")
    task = await step(people, task, "decide_extension", day="2026-10-12", approve=False,
                      reason="理由不充分")
    assert task.deadline == dt.date(2026, 10, 20) and task.extension_count == 1
    task = await step(people, task, "request_extension", who="nm", day="2026-10-13", reason="3",
                      requested_deadline="2026-10-22")
    task = await step(people, task, "decide_extension", day="2026-10-13", approve=True,
                      granted_deadline="2026-10-21", reason="部分同意")
    assert task.deadline == dt.date(2026, 10, 21) and task.extension_count == 2
    before = await row(task.id)
    with pytest.raises(Conflict) as exc:
        await step(people, task, "request_extension", who="nm", day="2026-10-14", reason="4",
                   requested_deadline="2026-10-23")
    assert exc.value.code == "extension_limit" and "2 of at most 2" in exc.value.message
    assert await row(task.id) == before
    ext = await ExtensionRequest.filter(task_id=task.id).order_by("id")
    assert [e.status for e in ext] == ["approved", "rejected", "approved"]
    assert await Evidence.filter(extension_id=ext[0].id).count() == 1


async def test_extension_after_the_deadline_is_refused(people):
    task = await dispatched(people, severity="urgent")  # deadline 2026-10-10
    with pytest.raises(Conflict) as exc:
        await step(people, task, "request_extension", who="nm", day="2026-10-12", reason="late",
                   requested_deadline="2026-10-20")
    assert exc.value.code == "deadline_passed"


async def test_closed_after_the_deadline_counts_as_late(people, settings):
    task = await dispatched(people, severity="urgent")  # deadline 2026-10-10
    task = await step(people, task, "respond", who="nm", day="2026-10-13", note="迟了",
                      files=[("a.pdf", PDF)], settings=settings)
    task = await step(people, task, "verify", day="2026-10-14", passed=True)
    assert task.closed_late is True


async def test_evaluation_score_must_be_0_to_100(people, settings):
    task = await responded(people, settings)
    task = await step(people, task, "verify", passed=True)
    before = await row(task.id)
    for bad in (101, -1, "good"):
        with pytest.raises(Invalid) as exc:
            await step(people, task, "evaluate", satisfaction=bad)
        assert exc.value.field == "satisfaction"
    assert await row(task.id) == before


async def test_rejection_needs_a_reason(people):
    task = await new_task(people)
    with pytest.raises(Invalid) as exc:
        await step(people, task, "reject", reason=" ")
    assert exc.value.field == "reason"
    task = await step(people, task, "reject", reason="不属于整改范围")
    assert task.status == "rejected" and allowed_actions(task, "") == []


async def test_concurrent_write_between_read_and_update_is_caught(people, monkeypatch):
    """Two admins race: the loser's conditional UPDATE matches no row and gets 409."""
    from plugins.rectification import workflow

    task = await new_task(people)
    original = workflow._assess

    async def racing(task_obj, data, ctx):
        await Task.filter(id=task_obj.id).update(version=task_obj.version + 1)  # the other admin
        return await original(task_obj, data, ctx)

    monkeypatch.setitem(workflow.HANDLERS, "assess", racing)
    with pytest.raises(Conflict) as exc:
        await step(people, task, "assess")
    assert exc.value.code == "stale_version"
    assert (await Task.get(id=task.id)).status == "registered"


async def test_time_is_counted_in_shanghai(people):
    # 2026-09-29 20:00 UTC is already 2026-09-30 in Shanghai
    task = await new_task(people)
    task = await step(people, task, "assess")
    from plugins.rectification.workflow import act as do

    task = await do(task.id, "dispatch", people["admin"], {"version": task.version},
                    now=dt.datetime(2026, 9, 29, 20, 0, tzinfo=dt.UTC))
    assert task.deadline == dt.date(2026, 10, 10)
    assert at("2026-09-30").utcoffset() == dt.timedelta(hours=8)


async def test_failed_listener_keeps_the_event_for_its_retry(people, settings, host, heard):
    """A broken listener neither undoes the verification nor loses the event, and the other
    listeners take it at once and only once."""
    import datetime as dt

    from core import events
    from core.events_models import EventDelivery, StoredEvent
    from core.hookspecs import hookimpl

    class Broken:
        down = True

        @staticmethod
        @hookimpl
        def kaohe_event(event):
            if Broken.down:
                raise RuntimeError("listener down")

    host.register("broken", Broken)
    task = await responded(people, settings)
    task = await step(people, task, "verify", day="2026-10-12", passed=False, reason="不合格")
    assert task.status == "dispatched" and task.fail_count == 1
    key = f"rectification.verification_failed:{task.id}:1"
    stored = await StoredEvent.get(key=key)
    assert stored.payload["reason"] == "不合格" and stored.source == "rectification"
    row = await EventDelivery.get(event=stored, listener="broken")
    assert row.status == "failed" and "listener down" in row.last_error
    assert [e.key for e in heard if e.name == "rectification.verification_failed"] == [key]
    Broken.down = False
    await EventDelivery.filter(id=row.id).update(next_try=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    report = await events.retry_due()
    assert [(o.listener, o.delivered) for o in report.outcomes] == [("broken", True)]
    assert (await EventDelivery.get(id=row.id)).status == "delivered"
    assert [e.key for e in heard if e.name == "rectification.verification_failed"] == [key]
