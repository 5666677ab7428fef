"""Parameters are refused at the boundary: every GET route of core and every plugin, called by
an admin and a unit officer with ids past 2**53 and with over-long query values, answers 4xx
naming the parameter, never 500 (an id beyond 64 bits or a filter longer than its column
used to reach the database)."""

from __future__ import annotations

import re

import pytest

from core.params import MAX_ID
from tests.conftest import login, make_user, seed_units

SKIP = {"request", "data", "state", "headers", "cookies", "scope", "body", "socket"}
LONG = "x" * 300


def _get_routes(app):
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if "GET" in (getattr(handler, "http_methods", None) or ()) and not route.path.startswith(
                    ("/schema", "/static")):
                yield route, handler


def _query_names(route, handler) -> list[str]:
    path_names = set(re.findall(r"\{([^}:]+)", route.path))
    names = handler.parsed_fn_signature.parameters
    return [n for n in names if n not in SKIP and n not in path_names]


def _url(path: str, id_value: int) -> str:
    path = re.sub(r"\{[^}:]+:int\}", str(id_value), path)
    return re.sub(r"\{[^}]+\}", "x", path)


@pytest.fixture
async def people(client):
    await seed_units()
    await make_user("p_admin", "admin")
    await make_user("p_officer", "unit_officer", unit_code="520102")


@pytest.mark.parametrize("username", ["p_admin", "p_officer"])
async def test_no_parameter_reaches_the_database_unchecked(client, people, username):
    await login(client, username)
    failures = []
    checked = 0
    for route, handler in _get_routes(client.app):
        names = _query_names(route, handler)
        url = _url(route.path, 2**64)
        accept = "application/json" if route.path.startswith("/api/") else "text/html"
        for params in ([{}] + [{n: LONG} for n in names]):
            r = await client.get(url, params=params, headers={"accept": accept})
            checked += 1
            if r.status_code >= 500:
                failures.append(f"{url} {params and list(params)}: {r.status_code}")
    assert checked > 50
    assert failures == []


async def test_out_of_range_id_names_the_field_in_chinese(client, people):
    await login(client, "p_admin")
    r = await client.get(f"/api/rectification/tasks/{2**64}", headers={"accept": "application/json"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "invalid_parameter" and error["field"] == "task_id"
    assert error["message"] == f"参数 task_id 无效：不能大于 {MAX_ID}"


@pytest.mark.parametrize("url, field, message", [
    ("/api/rectification/tasks?status=xxxxxxxxxxxxx", "status", "参数 status 无效：不是可选的取值（xxxxxxxxxxxxx）"),
    ("/api/accountability/records?status=" + LONG[:40], "status", None),
    ("/api/accountability/appeals?status=bogus", "status", None),
    ("/api/ranking/rankings?status=" + LONG[:40], "status", None),
    ("/api/coverage/reports?status=" + LONG[:40], "status", None),
    ("/api/archive?period=" + LONG[:40], "period", "参数 period 无效：最多 16 个字符"),
    ("/api/audit?page=0", "page", "参数 page 无效：不能小于 1"),
])
async def test_filters_are_typed(client, people, url, field, message):
    await login(client, "p_admin")
    r = await client.get(url, headers={"accept": "application/json"})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["field"] == field
    if message:
        assert error["message"] == message


async def test_pages_show_the_refusal_as_a_page(client, people):
    await login(client, "p_admin")
    r = await client.get("/accountability/records?status=" + LONG[:40], headers={"accept": "text/html"})
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")
    assert "参数 status 无效" in r.text


async def test_valid_filters_still_work(client, people):
    await login(client, "p_admin")
    for url in ("/api/rectification/tasks?status=dispatched", "/api/accountability/records?status=",
                "/api/ranking/rankings?status=final", "/api/coverage/reports?status=confirmed"):
        r = await client.get(url, headers={"accept": "application/json"})
        assert r.status_code == 200, (url, r.text)
