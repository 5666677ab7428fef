"""Errors people see are pages in their language with a title, a hint and a way back; API
clients keep getting JSON with a stable code."""

from __future__ import annotations

from tests.conftest import login, make_user, seed_units

HTML = {"accept": "text/html"}


async def test_not_found_forbidden_and_wrong_method_are_pages_with_a_way_back(client):
    await seed_units()
    await make_user("lead", "leader")
    await login(client, "lead")
    r = await client.get("/no-such-page", headers={**HTML, "referer": "http://testserver/inbox"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "页面不存在" in r.text and 'id="error-back" href="/inbox"' in r.text
    assert "Not Found" not in r.text
    # Another site's page is no way back: the dashboard is.
    r = await client.get("/no-such-page", headers={**HTML, "referer": "http://evil.example/x"})
    assert 'id="error-back" href="/"' in r.text
    # Litestar's role refusal, in Chinese and in English without the role's key.
    r = await client.get("/users", headers=HTML)
    assert r.status_code == 403 and "无权访问" in r.text and "may not use this route" not in r.text
    client.cookies.set("lang", "en")
    r = await client.get("/users", headers=HTML)
    assert r.status_code == 403 and "Not allowed" in r.text and "role &#39;leader&#39;" not in r.text
    client.cookies.set("lang", "zh")
    r = await client.post("/inbox", headers=HTML, data={})
    assert r.status_code in (403, 405) and "<h1>" in r.text and "错误代码" in r.text


async def test_api_errors_stay_json(client):
    await seed_units()
    await make_user("lead", "leader")
    await login(client, "lead")
    r = await client.get("/api/audit", headers=HTML)  # even when a browser asks
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = await client.get("/api/no-such", headers=HTML)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
