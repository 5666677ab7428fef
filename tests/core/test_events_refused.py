"""The event deliveries page: waiting and failed deliveries by listener and page, and the
deliveries a listener refused, delivered again once the cause is fixed (audited)."""

from __future__ import annotations

import types

from core.audit import AuditEntry
from core.contrib import DomainEvent
from core.hookspecs import hookimpl
from tests.conftest import login, make_user

HTML = {"accept": "text/html"}


async def test_refused_deliveries_are_shown_and_delivered_again(client):
    from core import events
    from core.events_models import EventDelivery

    host = client.app.state.host
    known = {"520102"}
    module = types.ModuleType("probe_refuse")

    @hookimpl
    def kaohe_event(event):
        code = event.payload.get("unit_code")
        if code not in known:
            return {"status": "refused", "message": f"unit_code: no org unit '{code}'"}
        return {"status": "created"}

    module.kaohe_event = kaohe_event
    host.register("probe_refuse", module)
    await make_user("adm", "admin")
    csrf = await login(client, "adm")
    page = (await client.get("/jobs/events?show=refused", headers=HTML)).text
    assert "没有被拒收的事件" in page and "被拒收（0）" in page
    for n, code in enumerate(("520102", "520199", "520198"), start=1):
        await events.publish(DomainEvent("ranking.published", f"ranking.published:{n}",
                                         {"unit_code": code, "link": "/ranking/1"}, "ranking"))
    # The accountability plugin refuses the three as well (their payloads lack its fields).
    page = (await client.get("/jobs", headers=HTML)).text
    assert 'id="refused-link"' in page and "被拒收（5）" in page
    page = (await client.get("/jobs/events?show=refused", headers=HTML)).text
    assert page.count("data-delivery=") == 5 and "missing required field(s)" in page
    page = (await client.get("/jobs/events?show=refused&listener=probe_refuse",
                             headers=HTML)).text
    assert "unit_code: no org unit &#39;520199&#39;" in page and "排位发布" in page
    assert page.count("data-delivery=") == 2 and 'href="/ranking/1"' in page
    row = await EventDelivery.get(listener="probe_refuse", event__key="ranking.published:2")
    # Still refused when delivered again without the cause fixed; the row stays delivered.
    r = await client.post("/jobs/events/redeliver", data={"_csrf": csrf, "delivery": str(row.id)})
    assert r.status_code in (302, 303)
    assert "再次拒收 1 条" in (await client.get(r.headers["location"], headers=HTML)).text
    known.add("520199")
    r = await client.post("/jobs/events/redeliver", data={"_csrf": csrf, "delivery": str(row.id)})
    assert "接收 1 条" in (await client.get(r.headers["location"], headers=HTML)).text
    row = await EventDelivery.get(id=row.id)
    assert (row.status, row.result, row.attempts) == ("delivered", {"status": "created"}, 3)
    entries = await AuditEntry.filter(action="events.redeliver", object_id=str(row.id))
    assert len(entries) == 2 and entries[0].before["result"]["status"] == "refused"
    # A delivered (not refused) row is not sent again.
    taken = await EventDelivery.get(listener="probe_refuse", event__key="ranking.published:1")
    await client.post("/jobs/events/redeliver", data={"_csrf": csrf, "delivery": str(taken.id)})
    assert (await EventDelivery.get(id=taken.id)).attempts == 1
    r = await client.post("/jobs/events/redeliver", data={"_csrf": csrf, "delivery": "x"})
    assert r.status_code == 422
    page = (await client.get("/jobs/events?show=refused&listener=probe_refuse", headers=HTML)).text
    assert page.count("data-delivery=") == 1


async def test_waiting_deliveries_page_by_listener_and_page(client):
    from core import events

    host = client.app.state.host
    module = types.ModuleType("probe_down")

    @hookimpl
    def kaohe_event(event):
        raise RuntimeError("下游服务不可用")

    module.kaohe_event = kaohe_event
    host.register("probe_down", module)
    await make_user("adm", "admin")
    csrf = await login(client, "adm")
    for n in range(55):
        await events.publish(DomainEvent("ranking.published", f"ranking.published:{n}", {},
                                         "ranking"))
    page = (await client.get("/jobs/events?listener=probe_down", headers=HTML)).text
    assert "共 55 条" in page and page.count("data-delivery=") == 50 and "第 1 / 2 页" in page
    page = (await client.get("/jobs/events?listener=probe_down&page=2", headers=HTML)).text
    assert page.count("data-delivery=") == 5
    r = await client.post("/jobs/events/retry", data={"_csrf": csrf, "back": "events"})
    assert r.headers["location"].startswith("/jobs/events?msg=")
    assert (await client.get("/jobs/events?show=bogus", headers=HTML)).status_code == 400
