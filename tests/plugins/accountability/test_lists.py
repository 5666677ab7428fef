"""Accountability lists: records and appeals counted and paged in the database, filters kept,
bad paging refused in Chinese, htmx answers #results only; the unit sees what it may."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from tests.conftest import login, make_user, seed_units

HTML = {"accept": "text/html"}
HX = {**HTML, "HX-Request": "true", "HX-Target": "results"}


def total(text: str) -> int:
    return int(re.search(r'class="pager" [^>]*data-total="(\d+)"', text).group(1))


def ids(text: str, attr: str) -> list[int]:
    return [int(x) for x in re.findall(rf'<tr {attr}="(\d+)"', text)]


@pytest.fixture
async def records(client):
    """南明区's 花果园社区: 40 approved records and 5 proposals; 云岩区: 25 closed ones.
    Every third approved record has an appeal; the first four were upheld."""
    from core.orgs import OrgUnit
    from plugins.accountability.models import Appeal, Record

    await seed_units()
    admin = await make_user("admin1", "admin")
    await make_user("nm_officer", "unit_officer", unit_code="520102")
    hgy = await OrgUnit.get(code="520102001")
    yy = await OrgUnit.get(code="520103")
    made = [Record(unit=hgy, trigger_type="manual", measure="remind", points=Decimal("0.5"),
                   status="approved", period="2014", trigger_ref=f"A{i}") for i in range(40)]
    made += [Record(unit=hgy, trigger_type="manual", measure="interview", points=Decimal("1"),
                    status="proposed", period="2014", trigger_ref=f"P{i}") for i in range(5)]
    made += [Record(unit=yy, trigger_type="manual", measure="circulate", points=Decimal("2"),
                    status="closed", period="2014", trigger_ref=f"C{i}") for i in range(25)]
    await Record.bulk_create(made)
    approved = await Record.filter(status="approved").order_by("id")
    await Appeal.bulk_create([
        Appeal(record=r, record_revision=1, submitted_by=admin, reasons=f"理由{n}",
               status="upheld" if n < 4 else "pending")
        for n, r in enumerate(approved[::3])])
    return approved


async def test_records_count_page_and_filter(client, records):
    await login(client, "admin1")
    r = await client.get("/accountability/records?size=20", headers=HTML)
    assert r.status_code == 200 and total(r.text) == 70 and "共 70 条" in r.text
    first = ids(r.text, "data-record")
    assert len(first) == 20 and first == sorted(first, reverse=True)
    r = await client.get("/accountability/records?size=20&page=4", headers=HTML)
    assert len(ids(r.text, "data-record")) == 10
    # a district's code takes its subtree, part of a name works too
    r = await client.get("/accountability/records?unit=520102&status=approved&size=20",
                         headers=HTML)
    assert total(r.text) == 40
    link = re.search(r'rel="next" class="pager-next" href="([^"]+)"', r.text).group(1)
    assert "unit=520102" in link and "status=approved" in link
    r = await client.get("/accountability/records?unit=云岩", headers=HTML)
    assert total(r.text) == 25
    r = await client.get("/accountability/records?measure=interview", headers=HX)
    assert r.text.lstrip().startswith('<div id="results">') and 'id="nav"' not in r.text
    assert total(r.text) == 5


async def test_unit_officer_sees_only_standing_measures_of_its_subtree(client, records):
    await login(client, "nm_officer")
    r = await client.get("/accountability/records?size=20", headers=HTML)
    assert total(r.text) == 40  # the proposals and the other district are not theirs
    r = await client.get("/accountability/appeals", headers=HTML)
    assert r.status_code == 403


async def test_appeals_list_pages_and_filters(client, records):
    await login(client, "admin1")
    r = await client.get("/accountability/appeals?size=5", headers=HTML)
    assert r.status_code == 200 and total(r.text) == 14 and len(ids(r.text, "data-appeal")) == 5
    assert "申诉维持原措施" in r.text and "upheld" not in r.text.split('id="results"')[1]
    r = await client.get("/accountability/appeals?size=5&page=3", headers=HTML)
    assert len(ids(r.text, "data-appeal")) == 4
    r = await client.get("/accountability/appeals?status=upheld", headers=HX)
    assert r.text.lstrip().startswith('<div id="results">') and total(r.text) == 4
    r = await client.get("/accountability/appeals?unit=云岩", headers=HTML)
    assert total(r.text) == 0 and "暂无申诉" in r.text


async def test_lists_refuse_bad_paging_in_chinese(client, records):
    await login(client, "admin1")
    for path in ("/accountability/records", "/accountability/appeals"):
        for query, words in (("page=0", "不能小于 1"), ("size=201", "不能大于 200"),
                             ("status=nope", "nope")):
            r = await client.get(f"{path}?{query}", headers=HTML)
            assert r.status_code == 400 and words in r.text, (path, query, r.text[:200])


async def test_json_lists_page_and_give_the_total(client, records):
    await login(client, "admin1")
    r = await client.get("/api/accountability/records?size=20&page=4")
    assert r.status_code == 200 and len(r.json()) == 10
    assert (r.headers["x-total-count"], r.headers["x-page"], r.headers["x-page-size"]) == (
        "70", "4", "20")
    r = await client.get("/api/accountability/records?status=closed")
    assert len(r.json()) == 25 and r.headers["x-total-count"] == "25"
    r = await client.get("/api/accountability/appeals?size=5&page=3")
    assert len(r.json()) == 4 and r.headers["x-total-count"] == "14"
    r = await client.get("/api/accountability/appeals?size=0")
    assert r.status_code == 400 and "size" in r.text


@pytest.fixture
async def queue(client, records):
    """30 proposals (5 of 花果园社区, 25 of 云岩区) and 22 pending appeals."""
    from core.accounts import User
    from core.orgs import OrgUnit
    from plugins.accountability.models import Appeal, Record

    yy = await OrgUnit.get(code="520103")
    await Record.bulk_create([Record(unit=yy, trigger_type="manual", measure="remind",
                                     points=Decimal("0.5"), status="proposed", period="2014",
                                     trigger_ref=f"Q{i}") for i in range(25)])
    admin = await User.get(username="admin1")
    closed = await Record.filter(status="closed").order_by("id").limit(12)
    await Appeal.bulk_create([Appeal(record=r, record_revision=1, submitted_by=admin,
                                     reasons="理由", status="pending") for r in closed])
    return await Record.filter(status="proposed").order_by("id")


def proposals(text: str) -> list[int]:
    return [int(x) for x in re.findall(r'id="proposal-(\d+)"', text)]


async def test_queue_counts_pages_and_filters(client, queue):
    await login(client, "admin1")
    r = await client.get("/accountability/queue?size=20", headers=HTML)
    assert r.status_code == 200 and total(r.text) == 30 and "共 30 条" in r.text
    first = proposals(r.text)
    assert first == [p.id for p in queue[:20]]  # oldest first
    r = await client.get("/accountability/queue?size=20&page=2", headers=HTML)
    assert proposals(r.text) == [p.id for p in queue[20:]]
    # a page past the end shows the last one
    r = await client.get("/accountability/queue?size=20&page=9", headers=HTML)
    assert proposals(r.text) == [p.id for p in queue[20:]]
    # filters narrow the list and stay in the pager's links
    r = await client.get("/accountability/queue?unit=520103&size=20", headers=HTML)
    assert total(r.text) == 25
    link = re.search(r'rel="next" class="pager-next" href="([^"]+)"', r.text).group(1)
    assert "unit=520103" in link and "page=2" in link
    r = await client.get(link.replace("&amp;", "&"), headers=HTML)
    assert len(proposals(r.text)) == 5
    r = await client.get("/accountability/queue?measure=interview", headers=HX)
    assert r.text.lstrip().startswith('<div id="results">') and 'id="nav"' not in r.text
    assert total(r.text) == 5 and "约谈" in r.text
    # the oldest pending appeals, and the way to all of them
    r = await client.get("/accountability/queue", headers=HTML)
    assert r.text.count('id="appeal-') == 20 and "共 22 条" in r.text
    assert 'href="/accountability/appeals?status=pending"' in r.text


async def test_queue_refuses_bad_paging_in_chinese(client, queue):
    await login(client, "admin1")
    for query, words in (("page=0", "不能小于 1"), ("size=201", "不能大于 200"),
                         ("measure=shout", "shout")):
        r = await client.get(f"/accountability/queue?{query}", headers=HTML)
        assert r.status_code == 400 and words in r.text, (query, r.text[:200])


async def test_approving_from_a_queue_page_comes_back_to_it(client, queue):
    from plugins.accountability.models import Record

    csrf = await login(client, "admin1")
    page = await client.get("/accountability/queue?unit=520103&size=20&page=2", headers=HTML)
    target = proposals(page.text)[0]
    back = re.search(r'name="back" value="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    r = await client.post(f"/accountability/records/{target}/approve",
                          data={"_csrf": csrf, "next": "queue", "back": back})
    assert r.status_code in (302, 303)
    location = r.headers["location"]
    assert location.startswith("/accountability/queue?") and "unit=520103" in location
    assert "page=2" in location and "size=20" in location and "msg=" in location
    assert (await Record.get(id=target)).status == "approved"
    # only the queue's own parameters come back: never another address
    other = proposals(page.text)[1]
    r = await client.post(f"/accountability/records/{other}/dismiss",
                          data={"_csrf": csrf, "next": "queue", "reason": "重复",
                                "back": "https://evil.example/?unit=1&x=2"})
    assert r.headers["location"].startswith("/accountability/queue?msg=")
