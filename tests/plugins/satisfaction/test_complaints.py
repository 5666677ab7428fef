"""A complaint in a survey answer becomes a rectification task at 信息收集, once."""

from __future__ import annotations

import pytest

from core.hookspecs import hookimpl
from core.plugins import get_host
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
    await get_host().announce(event)
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


async def test_a_failed_announcement_keeps_the_answer_and_is_retried(app_client, broken_listener):
    r = await complain(app_client)
    assert r.status_code == 200  # acknowledged: the response is stored whatever the listeners do
    response = await Response.get()
    assert response.complaint_announced_at is None
    get_host().pm.unregister(name="broken")
    assert await jobs.retry_complaints(None) == {"pending": 1, "announced": 1}
    assert (await Response.get()).complaint_announced_at is not None
    assert await Task.all().count() == 1
    get_host().pm.register(Broken(), name="broken")  # the fixture unregisters it
