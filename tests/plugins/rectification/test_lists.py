"""The admin's queue and the unit officer's task list: counted and paged in the database,
filters kept in the pager's links, bad paging refused in Chinese, htmx answers #results only."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from tests.conftest import login, make_user, seed_units
from tests.plugins.rectification.conftest import at

HTML = {"accept": "text/html"}
HX = {**HTML, "HX-Request": "true", "HX-Target": "results"}


def total(text: str) -> int:
    return int(re.search(r'class="pager" [^>]*data-total="(\d+)"', text).group(1))


def rows(text: str) -> list[str]:
    return re.findall(r'<tr data-task="([^"]+)"', text)


def next_link(text: str) -> str:
    return re.search(r'<a rel="next" class="pager-next" href="([^"]+)"', text).group(1) \
        .replace("&amp;", "&")


@pytest.fixture
async def tasks(client):
    """45 tasks of 花果园社区 (南明区), 30 of them dispatched and overdue, and 12 of 黔灵社区
    (云岩区), dispatched and due later."""
    from core.orgs import OrgUnit, Period, ensure_period
    from plugins.rectification.models import Task

    await seed_units()
    await ensure_period("2026")
    await make_user("admin1", "admin")
    await make_user("hgy_officer", "unit_officer", unit_code="520102001")
    period = await Period.get(code="2026")
    hgy = await OrgUnit.get(code="520102001")
    ql = await OrgUnit.get(code="520103001")
    made = []
    for i in range(45):
        late = i < 30
        made.append(Task(number=f"HGY-{i:03d}", period=period, source="grid", category="general",
                         title=f"花果园问题{i}", severity="urgent", unit=hgy, status="dispatched",
                         registered_at=at("2026-09-01"), dispatched_at=at("2026-09-02"),
                         deadline=dt.date(2026, 10, 1) if late else dt.date(2027, 3, 1),
                         overdue=late))
    for i in range(12):
        made.append(Task(number=f"QL-{i:03d}", period=period, source="grid", category="general",
                         title=f"黔灵问题{i}", severity="normal", unit=ql, status="dispatched",
                         registered_at=at("2026-09-01"), dispatched_at=at("2026-09-02"),
                         deadline=dt.date(2027, 3, 1)))
    await Task.bulk_create(made)
    return made


async def test_queue_counts_pages_and_keeps_filters(client, tasks):
    await login(client, "admin1")
    r = await client.get("/rectification/queue?step=dispatched&size=20", headers=HTML)
    assert r.status_code == 200
    assert total(r.text) == 57 and "共 57 条" in r.text and len(rows(r.text)) == 20
    r2 = await client.get("/rectification/queue?step=dispatched&size=20&page=2", headers=HTML)
    assert len(rows(r2.text)) == 20 and not set(rows(r2.text)) & set(rows(r.text))
    r3 = await client.get("/rectification/queue?step=dispatched&size=20&page=3", headers=HTML)
    assert len(rows(r3.text)) == 17  # 57 = 20 + 20 + 17
    # the district's code takes its subtree; overdue narrows to open tasks past the deadline
    r = await client.get("/rectification/queue?step=dispatched&unit=520102&overdue=yes&size=20",
                         headers=HTML)
    assert total(r.text) == 30 and all(n.startswith("HGY-") for n in rows(r.text))
    link = next_link(r.text)
    assert "unit=520102" in link and "overdue=yes" in link and "step=dispatched" in link
    r = await client.get(link, headers=HTML)
    assert len(rows(r.text)) == 10 and all(n.startswith("HGY-") for n in rows(r.text))
    # part of a name, and "not overdue"
    r = await client.get("/rectification/queue?step=all&unit=黔灵", headers=HTML)
    assert total(r.text) == 12 and all(n.startswith("QL-") for n in rows(r.text))
    r = await client.get("/rectification/queue?step=all&overdue=no", headers=HTML)
    assert total(r.text) == 27
    # the step links keep the other filters
    assert 'href="?step=closed&amp;unit=%E9%BB%94%E7%81%B5' in (await client.get(
        "/rectification/queue?unit=黔灵", headers=HTML)).text


async def test_queue_refuses_bad_paging_in_chinese(client, tasks):
    await login(client, "admin1")
    for query, words in (("page=0", "不能小于 1"), ("size=500", "不能大于 200"),
                         ("page=x", "page"), ("overdue=maybe", "maybe")):
        r = await client.get(f"/rectification/queue?{query}", headers=HTML)
        assert r.status_code == 400, query
        assert words in r.text and ("page" in r.text or "size" in r.text or "overdue" in r.text)


async def test_queue_answers_htmx_with_the_results_only(client, tasks):
    await login(client, "admin1")
    r = await client.get("/rectification/queue?step=dispatched&size=20&page=2", headers=HX)
    assert r.status_code == 200
    assert r.text.lstrip().startswith('<div id="results">') and 'id="nav"' not in r.text
    assert len(rows(r.text)) == 20 and "共 57 条" in r.text
    assert "Vary" in r.headers and "HX-Request" in r.headers["Vary"]


async def test_mine_groups_count_and_page(client, tasks):
    # the clock is pinned on 2026-11-20 (conftest): 30 tasks are past their deadline
    await login(client, "hgy_officer")
    r = await client.get("/rectification/mine?size=20", headers=HTML)
    assert r.status_code == 200
    assert total(r.text) == 45 and len(rows(r.text)) == 20  # 黔灵社区 is not theirs
    assert re.search(r'id="group-overdue"[^>]*>[^<]*\(30\)', r.text)
    assert re.search(r'id="group-to_respond"[^>]*>[^<]*\(15\)', r.text)
    r = await client.get("/rectification/mine?group=overdue&size=20&page=2", headers=HTML)
    assert total(r.text) == 30 and len(rows(r.text)) == 10
    r = await client.get("/rectification/mine?group=to_respond", headers=HX)
    assert r.text.lstrip().startswith('<div id="results">') and total(r.text) == 15
    assert all(int(n[4:]) >= 30 for n in rows(r.text))
    r = await client.get("/rectification/mine?group=elsewhere", headers=HTML)
    assert r.status_code == 400 and "group" in r.text
    # cards on a phone: every cell names its column
    page = (await client.get("/rectification/mine", headers=HTML)).text
    assert 'class="rect-tasks stack"' in page and 'data-label="整改期限"' in page


async def test_api_list_is_paged_in_the_database(client, tasks):
    await login(client, "admin1")
    r = await client.get("/api/rectification/tasks?size=20")
    assert r.status_code == 200 and r.headers["x-total-count"] == "57"
    first = [t["number"] for t in r.json()]
    assert len(first) == 20 and r.headers["x-page"] == "1" and r.headers["x-page-size"] == "20"
    r = await client.get("/api/rectification/tasks?size=20&page=3")
    assert [t["number"] for t in r.json()] == [f"HGY-{i:03d}" for i in range(40, 45)] + [
        f"QL-{i:03d}" for i in range(12)]  # 57 = 20 + 20 + 17, oldest first
    r = await client.get("/api/rectification/tasks?size=20&page=2&unit=520102&overdue=true")
    assert r.headers["x-total-count"] == "30" and len(r.json()) == 10
    row = r.json()[0]
    assert row["unit__code"] == "520102001" and row["late"] and row["days_overdue"] > 0
    assert not set(first[:20]) & {t["number"] for t in r.json()}
    # the officer sees only the tasks of their unit, counted so
    client.cookies.clear()
    await login(client, "hgy_officer")
    r = await client.get("/api/rectification/tasks?size=50")
    assert r.headers["x-total-count"] == "45" and len(r.json()) == 45


async def test_api_list_refuses_bad_paging_naming_the_field(client, tasks):
    await login(client, "admin1")
    for query, field, words in (("size=0", "size", "不能小于 1"), ("size=201", "size", "不能大于 200"),
                                ("page=0", "page", "不能小于 1")):
        r = await client.get(f"/api/rectification/tasks?{query}")
        assert r.status_code == 400, query
        error = r.json()["error"]
        assert error["field"] == field and words in error["message"], error
