"""The ranking API's typed bodies: a malformed body is refused at the boundary (400) naming
the field in the caller's language, before any value is checked or written; an unknown
period is refused before the indicator sources are asked."""

from __future__ import annotations

import pytest

from core.contrib import IndicatorSource
from plugins.ranking import models
from tests.plugins.ranking.test_routes import SUBSCRIPTION, api_values, world

VALUES = {"period": "2014", "group": "districts"}


@pytest.mark.parametrize(("method", "path", "body", "field", "words"), [
    ("put", "/api/ranking/values", VALUES, "values", "缺少必填字段 values"),
    ("put", "/api/ranking/values", {**VALUES, "values": {"unit": "520102"}}, "values",
     "应为列表，收到的是对象"),
    ("put", "/api/ranking/values", {**VALUES, "values": [
        {"unit": "5" * 33, "indicator": "sat", "value": 80}]}, "values[0].unit", "最多 32 个字符"),
    ("put", "/api/ranking/values", {**VALUES, "values": [
        {"unit": "520102", "indicator": "sat", "value": [80]}]}, "values[0].value",
     "收到的是列表"),
    ("put", "/api/ranking/values", {**VALUES, "period": "2014" * 5, "values": []}, "period",
     "最多 16 个字符"),
    ("post", "/api/ranking/rankings", {"period": 2014, "group": "districts"}, "period",
     "应为文本，收到的是整数"),
    ("post", "/api/ranking/rankings", {"period": "2014"}, "group", "缺少必填字段 group"),
    ("post", "/api/ranking/rankings", {**VALUES, "colour": "red"}, "colour",
     "不认识的字段 colour"),
    ("post", "/api/ranking/rankings/{rid}/revise", {"reason": ["重算"]}, "reason",
     "应为文本，收到的是列表"),
    ("post", "/api/ranking/rankings/{rid}/objections", {"unit": "520103", "reason": "错" * 2001},
     "reason", "最多 2000 个字符"),
    ("post", "/api/ranking/objections/1/resolve", {"decision": True, "response": "x"},
     "decision", "应为文本，收到的是是/否"),
    ("post", "/api/ranking/subscriptions", {**SUBSCRIPTION, "active": "yes"}, "active",
     "应为是/否，收到的是文本"),
    ("post", "/api/ranking/subscriptions", {**SUBSCRIPTION, "recipients": [
        {"user": "leader1", "phone": "123"}]}, "recipients[0].phone", "不认识的字段 phone"),
    ("put", "/api/ranking/subscriptions/1", {**SUBSCRIPTION, "cron": "*" * 101}, "cron",
     "最多 100 个字符"),
])
async def test_a_malformed_body_is_refused_naming_the_field(client, method, path, body, field,
                                                            words):
    admin = await world(client)
    before = await models.IndicatorValue.all().count(), await models.Subscription.all().count()
    r = await getattr(client, method)(path.format(rid=1), headers=admin, json=body)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["field"] == field and words in error["message"], error
    after = await models.IndicatorValue.all().count(), await models.Subscription.all().count()
    assert after == before


async def test_a_well_formed_body_still_reaches_the_rules(client):
    """Typed is not judged: a unit outside the group and an unknown decision are still the
    services' refusals (422, field named), and good bodies answer the typed shapes."""
    admin = await world(client)
    r = await client.put("/api/ranking/values", headers=admin, json={**VALUES, "values": [
        {"unit": "520102001", "indicator": "sat", "value": "８０"}]})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "unit"
    r = await client.put("/api/ranking/values", headers=admin,
                         json={**VALUES, "values": api_values()})
    assert r.json() == {"created": 12, "updated": 0, "deleted": 0, "unchanged": 0}
    r = await client.post("/api/ranking/subscriptions", headers=admin, json=SUBSCRIPTION)
    assert r.status_code == 201, r.text
    assert r.json()["recipients"] == [{"user": "leader1"}]  # only the keys given
    r = await client.post("/api/ranking/subscriptions", headers=admin,
                          json={**SUBSCRIPTION, "key": "other", "cron": "every monday"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "cron"
    scheme = (await client.get("/api/ranking/scheme", headers=admin)).json()
    assert [g["key"] for g in scheme["scheme"]["groups"]] == ["districts", "communities"]
    sat = scheme["scheme"]["aspects"][0]["indicators"][0]
    assert (sat["key"], sat["weight"], sat["target"], sat["core"]) == ("sat", "50", "80", True)


async def test_a_path_unit_code_beyond_its_column_is_refused(client):
    admin = await world(client)
    r = await client.get(f"/api/ranking/rankings/1/units/{'5' * 33}", headers=admin)
    assert r.status_code == 400 and r.json()["error"]["field"] == "unit_code"


@pytest.mark.parametrize("period", ["null", "2099"])
async def test_missing_values_of_an_unknown_period_name_it(client, monkeypatch, period):
    """A plugin source raises for a period it does not know; the period is refused first."""
    admin = await world(client)
    asked: list[str] = []

    async def strict(code: str, units: list[str]) -> dict[str, int]:
        asked.append(code)
        if code not in ("2013", "2014"):
            raise LookupError(f"no period {code}")
        return dict.fromkeys(units, 90)

    from plugins.ranking import values

    monkeypatch.setattr(values, "indicator_source",
                        lambda key: IndicatorSource(key, "严格来源", "%", strict))
    params = {"period": period, "group": "districts"}
    r = await client.get("/api/ranking/missing", headers=admin, params=params)
    assert r.status_code == 404, r.text
    error = r.json()["error"]
    assert (error["code"], error["field"]) == ("unknown_period", "period")
    assert f"没有考核期“{period}”" in error["message"], error
    assert asked == []
    r = await client.get("/api/ranking/missing", headers={**admin, "Cookie": "lang=en"},
                         params=params)
    assert r.status_code == 404 and f'no period "{period}"' in r.json()["error"]["message"]
    r = await client.get("/api/ranking/missing", headers=admin,
                         params={"period": "2014", "group": "districts"})
    assert r.status_code == 200 and r.json()["missing_values"] == 12 and asked == ["2014"]
