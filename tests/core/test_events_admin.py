"""What admins see of the event store: the section on /jobs and `kaohe events list|retry`."""

from __future__ import annotations

import datetime as dt
import types

from click.testing import CliRunner

from core.contrib import DomainEvent
from core.hookspecs import hookimpl
from tests.conftest import login, make_user, with_db

HTML = {"accept": "text/html"}


def _cli(settings, *args):
    from core.cli import cli
    from core.commands import register_core_commands

    register_core_commands(cli)
    return CliRunner().invoke(cli, ["--settings", str(settings.source), *args])


async def test_jobs_page_shows_failed_deliveries_and_retries_them(client):
    from core import events
    from core.events_models import EventDelivery

    host = client.app.state.host
    state = {"down": True}
    module = types.ModuleType("probe_page")

    @hookimpl
    def kaohe_event(event):
        if state["down"]:
            raise RuntimeError("下游服务不可用")

    module.kaohe_event = kaohe_event
    host.register("probe_page", module)
    await make_user("adm", "admin")
    csrf = await login(client, "adm")
    page = (await client.get("/jobs", headers=HTML)).text
    assert 'id="events"' in page and "没有待投递或投递失败的事件" in page

    await events.publish(DomainEvent("ranking.published", "ranking.published:77", {}, "ranking"))
    row = await EventDelivery.get(listener="probe_page")
    page = (await client.get("/jobs", headers=HTML)).text
    assert f'data-delivery="{row.id}"' in page
    assert "排位发布" in page and "投递失败" in page and "下游服务不可用" in page
    assert "ranking.published:77" in page and "core.events" in page  # the retry job is listed
    assert ">failed<" not in page  # no code word for the status

    r = await client.post("/jobs/events/retry", data={"_csrf": csrf, "delivery": "x1"})
    assert r.status_code == 422 and "delivery" in r.text
    r = await client.post("/jobs/events/retry", data={"_csrf": "forged", "delivery": str(row.id)})
    assert r.status_code == 403
    state["down"] = False
    r = await client.post("/jobs/events/retry", data={"_csrf": csrf, "delivery": str(row.id)})
    assert r.status_code in (302, 303)
    page = (await client.get(r.headers["location"], headers=HTML)).text
    assert "已重试：成功 1 条，失败 0 条" in page and "没有待投递或投递失败的事件" in page
    assert (await EventDelivery.get(id=row.id)).status == "delivered"
    client.cookies.set("lang", "en")
    english = (await client.get("/jobs", headers=HTML)).text
    assert "Event deliveries" in english and "No event waits for delivery" in english


def test_events_cli_lists_and_retries(settings):
    async def failed_delivery():
        from core import events
        from core.events_models import EventDelivery

        await events.publish(DomainEvent("ranking.published", "ranking.published:cli", {},
                                         "ranking"))
        row = await EventDelivery.get(listener="accountability")
        await EventDelivery.filter(id=row.id).update(
            status="failed", attempts=3, last_error="RuntimeError: down\nmore lines",
            next_try=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
        return row.id

    delivery_id = with_db(settings, failed_delivery)
    listed = _cli(settings, "events", "list")
    assert listed.exit_code == 0, listed.output
    [line] = [x for x in listed.output.splitlines() if x.startswith(f"{delivery_id}\t")]
    assert line.split("\t")[1:4] == ["accountability", "failed", "3"]
    assert "ranking.published:cli" in line and line.endswith("RuntimeError: down")
    # Only accountability takes ranking.published: no other plugin got a row for it.
    assert _cli(settings, "events", "list", "--status", "delivered").output == \
        "no delivered deliveries\n"
    assert _cli(settings, "events", "list", "--status", "delivered", "--listener",
                "accountability").output == "no delivered deliveries\n"
    bad = _cli(settings, "events", "list", "--status", "lost")
    assert bad.exit_code == 2 and "--status" in bad.output
    nothing = _cli(settings, "events", "retry")
    assert nothing.exit_code == 2 and "--all" in nothing.output
    unknown = _cli(settings, "events", "retry", "999999")
    assert unknown.exit_code == 2 and "no failed or pending delivery with id 999999" in \
        unknown.output
    retried = _cli(settings, "events", "retry", str(delivery_id))
    assert retried.exit_code == 0, retried.output
    assert "delivered 1, failed 0" in retried.output
    assert "no deliveries waiting" in _cli(settings, "events", "list").output
    delivered = _cli(settings, "events", "list", "--status", "delivered").output
    assert delivered.startswith(f"{delivery_id}\taccountability\tdelivered\t4\t-\t")
