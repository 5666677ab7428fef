"""A complaint in a survey answer becomes a rectification task at 信息收集, once."""

from __future__ import annotations

import pytest

from core.hookspecs import hookimpl
from plugins.rectification.listeners import handle
from plugins.rectification.models import Task, TaskEvent
from plugins.satisfaction import events, jobs
from plugins.satisfaction.models import Response
from tests.plugins.satisfaction.helpers import aged_token

FORM = "/satisfaction/s/s2014/520102001"
TEXT = "小区门口占道经营，堵塞消防通道。"


async def complain(client, mark: bool = True):
    data = {"token": await aged_token("s2014", "520102001"), "q_overall": "3", "q_safety": "1",
            "q_comment": TEXT}
    if mark:
        data["c_comment"] = "1"
    return await client.post(FORM, data=data)


async def test_a_marked_complaint_becomes_a_task_at_step_one(app_client):
    r = await complain(app_client)
    assert r.status_code == 200 and "您的投诉已登记" in r.text
    response = await Response.get()
    assert response.complaint == TEXT and response.complaint_announced_at is not None
    task = await Task.get().prefetch_related("unit", "period")
    assert (task.status, task.source, task.unit.code, task.period.code) == (
        "registered", "survey", "520102001", "2014")
    assert TEXT in task.title and "2014年测评" in task.description
    step = await TaskEvent.get(task=task)
    assert step.action == "register" and step.data["event_key"] == \
        f"satisfaction.complaint:{response.id}"
    # Delivered again (a retry after a crash): nothing new.
    from core.orgs import OrgUnit
    from plugins.satisfaction.models import Survey

    event = events.complaint_event(response, await Survey.get(key="s2014").prefetch_related(
        "period"), await OrgUnit.get(code="520102001"))
    from core import events as core_events

    await core_events.publish(event)  # the store takes a key once
    await handle(event)  # and the listener itself registers a complaint once
    assert await Task.all().count() == 1


async def test_an_unmarked_comment_is_no_complaint(app_client):
    assert (await complain(app_client, mark=False)).status_code == 200
    assert (await Response.get()).answers["comment"] == TEXT
    assert (await Response.get()).complaint == ""
    assert await Task.all().count() == 0


class Broken:
    @hookimpl
    def kaohe_event(self, event):
        raise RuntimeError("listener down")


@pytest.fixture
def broken_listener(host):
    plugin = Broken()
    host.pm.register(plugin, name="broken")
    yield
    host.pm.unregister(name="broken")


async def test_a_failing_listener_keeps_the_answer_and_stops_no_other(app_client, broken_listener):
    from core.events_models import EventDelivery

    r = await complain(app_client)
    assert r.status_code == 200  # acknowledged: the response is stored whatever the listeners do
    response = await Response.get()
    assert response.complaint_announced_at is not None  # in the core event store
    assert await Task.all().count() == 1  # rectification took it although "broken" failed
    failed = await EventDelivery.get(listener="broken")
    assert failed.status == "failed" and "listener down" in failed.last_error
    assert failed.next_try is not None  # the core.events job retries it
    assert await jobs.retry_complaints(None) == {"pending": 0, "announced": 0}
