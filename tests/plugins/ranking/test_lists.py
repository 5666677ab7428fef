"""Ranking lists: the rankings and the report firings are counted and paged in the database,
filters kept, bad paging refused in Chinese, htmx answers #results only, no codes shown."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from plugins.ranking import models
from tests.conftest import login
from tests.plugins.ranking.test_routes import world

HTML = {"accept": "text/html"}
HX = {**HTML, "HX-Request": "true", "HX-Target": "results"}


def total(text: str) -> int:
    return int(re.search(r'class="pager" [^>]*data-total="(\d+)"', text).group(1))


def ids(text: str, attr: str) -> list[int]:
    return [int(x) for x in re.findall(rf'{attr}="(\d+)"', text)]


@pytest.fixture
async def rankings(client):
    """2014 districts: 40 published revisions, 10 drafts; 2013 communities: 15 superseded."""
    await world(client)
    scheme = await models.Scheme.filter(is_current=True).first()
    made = [models.Ranking(period="2014", group="districts", scheme=scheme,
                           definition_slug=scheme.slug,
                           definition_version=scheme.definition_version, missing_policy="zero",
                           status="final" if i < 40 else "draft", unit_count=4,
                           revision=i + 1) for i in range(50)]
    made += [models.Ranking(period="2013", group="communities", scheme=scheme,
                            definition_slug=scheme.slug,
                            definition_version=scheme.definition_version, missing_policy="zero",
                            status="superseded", unit_count=1, revision=i + 1)
              for i in range(15)]
    await models.Ranking.bulk_create(made)


async def test_rankings_list_pages_filters_and_names_groups(client, rankings):
    await login(client, "admin1")
    r = await client.get("/ranking?size=20", headers=HTML)
    assert r.status_code == 200 and total(r.text) == 65 and "共 65 条" in r.text
    listed = ids(r.text, "data-ranking")
    assert len(listed) == 20 and listed == sorted(listed, reverse=True)
    assert "missing-summary" not in r.text  # the costly check runs only when asked
    r = await client.get("/ranking?size=20&page=4", headers=HTML)
    assert len(ids(r.text, "data-ranking")) == 5
    r = await client.get("/ranking?group=communities&size=10", headers=HTML)
    assert total(r.text) == 15
    table = r.text.split('id="rankings"', 1)[1]
    assert "社区" in table and ">communities<" not in table
    link = re.search(r'rel="next" class="pager-next" href="([^"]+)"', r.text).group(1)
    assert "group=communities" in link and "page=2" in link
    r = await client.get("/ranking?period=2014&status=draft", headers=HX)
    assert r.text.lstrip().startswith('<div id="results">') and 'id="nav"' not in r.text
    assert total(r.text) == 10
    client.cookies.clear()
    await login(client, "leader1")
    r = await client.get("/ranking?size=20", headers=HTML)
    assert total(r.text) == 55  # drafts are the admins' working copies


async def test_firing_histories_page(client, rankings):
    await login(client, "admin1")
    sub = await models.Subscription.create(key="weekly", title="周排位", exporter="ranking",
                                           cron="0 8 * * 1")
    start = dt.datetime(2014, 1, 6, 0, 0, tzinfo=dt.UTC)
    await models.Firing.bulk_create([
        models.Firing(subscription=sub, scheduled_for=start + dt.timedelta(weeks=i),
                      period="2014", status="ok") for i in range(45)])
    last = await models.Firing.all().order_by("-id").first()
    await models.Delivery.create(firing=last, recipient="leader1", address="l@example.org",
                                 state="sent")
    r = await client.get("/ranking/subscriptions?size=20", headers=HTML)
    assert r.status_code == 200 and total(r.text) == 45
    assert len(set(ids(r.text, "data-firing"))) == 20 and "已发送" in r.text and "已完成" in r.text
    r = await client.get("/ranking/subscriptions?size=20&page=3", headers=HX)
    assert r.text.lstrip().startswith('<div id="results">') and len(ids(r.text, "data-firing")) == 5
    r = await client.get(f"/ranking/subscriptions/{sub.id}?size=10&page=2", headers=HTML)
    assert total(r.text) == 45 and len(set(ids(r.text, "data-firing"))) == 10
    first = await client.get(f"/ranking/subscriptions/{sub.id}?size=10", headers=HTML)
    assert 'data-state="sent"' in first.text and ">sent<" not in first.text


async def test_lists_refuse_bad_paging_in_chinese(client, rankings):
    await login(client, "admin1")
    for path in ("/ranking", "/ranking/subscriptions"):
        for query, words in (("page=0", "不能小于 1"), ("size=1000", "不能大于 200")):
            r = await client.get(f"{path}?{query}", headers=HTML)
            assert r.status_code == 400 and words in r.text, (path, query, r.text[:200])
    r = await client.get("/ranking?status=secret", headers=HTML)
    assert r.status_code == 400 and "status" in r.text


async def test_annual_results_page(client, rankings):
    from plugins.ranking import annual_models as am

    await am.AnnualResult.bulk_create([
        am.AnnualResult(year="2014", group="districts", revision=i + 1, definition_slug="t",
                        definition_version=1, status="final" if i < 50 else "draft")
        for i in range(60)])
    await login(client, "admin1")
    r = await client.get("/ranking/annual?size=20", headers=HTML)
    assert r.status_code == 200 and total(r.text) == 60 and len(ids(r.text, "data-annual")) == 20
    r = await client.get("/ranking/annual?size=20&page=3", headers=HX)
    assert r.text.lstrip().startswith('<div id="results">') and len(ids(r.text, "data-annual")) == 20
    client.cookies.clear()
    await login(client, "leader1")
    r = await client.get("/ranking/annual?size=20", headers=HTML)
    assert total(r.text) == 50


async def test_json_lists_page_and_give_the_total(client, rankings):
    await login(client, "admin1")
    r = await client.get("/api/ranking/rankings?size=20&page=4")
    assert r.status_code == 200 and len(r.json()) == 5
    assert r.headers["x-total-count"] == "65" and r.headers["x-page"] == "4"
    r = await client.get("/api/ranking/rankings?status=draft")
    assert len(r.json()) == 10 and r.headers["x-total-count"] == "10"
    sub = await models.Subscription.create(key="weekly", title="周排位", exporter="ranking",
                                           cron="0 8 * * 1")
    start = dt.datetime(2014, 1, 6, 0, 0, tzinfo=dt.UTC)
    await models.Firing.bulk_create([
        models.Firing(subscription=sub, scheduled_for=start + dt.timedelta(weeks=i),
                      period="2014", status="ok") for i in range(25)])
    last = await models.Firing.all().order_by("-id").first()
    await models.Delivery.create(firing=last, recipient="leader1", state="sent")
    r = await client.get(f"/api/ranking/subscriptions/{sub.id}/deliveries?size=10")
    body = r.json()
    assert len(body) == 10 and r.headers["x-total-count"] == "25"
    assert body[0]["id"] == last.id and [d["state"] for d in body[0]["deliveries"]] == ["sent"]
    assert all(f["deliveries"] == [] for f in body[1:])
    r = await client.get(f"/api/ranking/subscriptions/{sub.id}/deliveries?page=-1")
    assert r.status_code == 400 and "page" in r.text
