"""Peer groups are picked by the name the definition gives them: the subscriptions page and the
archive offer them as a choice, and no group key (districts, communities) reaches those pages."""

from __future__ import annotations

import re

from core.archive import ReportFile
from tests.conftest import login
from tests.plugins.ranking.helpers import scenario_values
from tests.plugins.ranking.test_routes import SUBSCRIPTION, world

HTML = {"accept": "text/html"}


def _visible(html: str) -> str:
    """The page's words: tags, styles and attribute values (a select's keys) left out."""
    return re.sub(r"<style.*?</style>|<script.*?</script>|<[^>]*>", " ", html, flags=re.S)


async def test_subscriptions_page_offers_groups_by_name(client):
    admin = await world(client)
    r = await client.post("/api/ranking/subscriptions", headers=admin,
                          json={**SUBSCRIPTION, "detail_group": "communities"})
    assert r.status_code == 201, r.text
    await login(client, "admin1")
    r = await client.get("/ranking/subscriptions/new", headers=HTML)
    assert r.status_code == 200
    for field in ("group", "detail_group"):
        select = re.search(rf'<select name="{field}">(.*?)</select>', r.text, re.S)
        assert select, field
        options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select.group(1))
        assert options == [("", "（无）"), ("districts", "区（市、县）"), ("communities", "社区")]
    words = _visible(r.text)
    listed = _visible((await client.get("/ranking/subscriptions", headers=HTML)).text)
    assert "区（市、县） + 社区" in listed  # the subscription's groups by name
    assert "districts" not in listed and "communities" not in listed
    assert "districts" not in words and "communities" not in words
    assert "first_workday" not in words and "工作绩效排位" in words


async def test_archive_offers_groups_by_name_and_titles_a_report_with_it(client):
    admin = await world(client)
    await client.put("/api/ranking/values", headers=admin, json={
        "period": "2014", "group": "districts",
        "values": [{"unit": u, "indicator": k, "value": v}
                   for (u, k), v in scenario_values().items()]})
    rid = (await client.post("/api/ranking/rankings", headers=admin,
                             json={"period": "2014", "group": "districts"})).json()["id"]
    await client.post(f"/api/ranking/rankings/{rid}/publish", headers=admin)
    csrf = await login(client, "admin1")
    r = await client.get("/archive", headers=HTML)
    assert r.status_code == 200
    select = re.search(r'<select form="form-ranking" name="group"[^>]*>(.*?)</select>', r.text, re.S)
    assert select and re.findall(r'<option value="([^"]*)">([^<]*)</option>', select.group(1)) == [
        ("districts", "区（市、县）"), ("communities", "社区")]
    assert 'form="form-ranking"' in r.text and 'data-unit-picker' in r.text
    r = await client.post("/exports/ranking/archive", headers=HTML, data={
        "_csrf": csrf, "period": "2014", "group": "districts"})
    assert r.status_code in (200, 201, 302, 303), r.text[-800:]
    report = await ReportFile.filter(exporter="ranking").order_by("-id").first()
    assert report.title == "工作绩效排位 2014 区（市、县）" and report.group == "districts"
    r = await client.get("/archive", headers=HTML)
    assert "工作绩效排位 2014 区（市、县）" in r.text


async def test_compute_form_and_rankings_list_name_the_group(client):
    admin = await world(client)
    await client.post("/api/ranking/rankings", headers=admin,
                      json={"period": "2014", "group": "districts"})
    await login(client, "admin1")
    r = await client.get("/ranking", params={"period": "2014", "group": "districts"}, headers=HTML)
    assert r.status_code == 200
    button = re.search(r'<button type="submit" id="compute">([^<]*)</button>', r.text).group(1)
    assert "区（市、县）" in button
    rankings = re.search(r'<table id="rankings"[^>]*>(.*?)</table>', r.text, re.S).group(1)
    assert "区（市、县）" in _visible(rankings)
    assert "districts" not in _visible(r.text) and "communities" not in _visible(r.text)
