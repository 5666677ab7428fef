"""/schema describes API bodies by their fields, and a malformed body is refused naming the
field, in the caller's language.

Every operation of core and of every plugin declares its request and response shapes: a new
operation answering a hand-built dictionary fails here.
"""

from __future__ import annotations

import pytest

from tests.conftest import login, make_user


def _described(schema: dict, components: dict) -> bool:
    if not schema:
        return False
    if "$ref" in schema:
        return _described(components[schema["$ref"].rsplit("/", 1)[1]], components)
    if schema.get("type") == "array":
        return _described(schema.get("items", {}), components)
    options = schema.get("oneOf") or schema.get("anyOf")
    if options:
        return all(_described(o, components) for o in options if o.get("type") != "null")
    if schema.get("type") == "object":
        extra = schema.get("additionalProperties")  # a map: its values must be typed
        return bool(schema.get("properties")) or (isinstance(extra, dict) and bool(extra)
                                                  and _described(extra, components))
    return True


def _untyped(spec: dict) -> set[str]:
    components = spec.get("components", {}).get("schemas", {})
    found = set()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            name = f"{method.upper()} {path}"
            bodies = [r.get("content") for code, r in op.get("responses", {}).items()
                      if code.startswith("2") and r.get("content")]
            if "requestBody" in op:
                bodies.append(op["requestBody"]["content"])
            for content in bodies:
                media, body = next(iter(content.items()))
                if media != "application/json":
                    continue  # a file: the media type says what it is
                if not _described(body.get("schema", {}), components):
                    found.add(name)
    return found


async def test_schema_describes_every_body(client):
    spec = (await client.get("/schema/openapi.json")).json()
    untyped = _untyped(spec)
    assert not untyped, f"operations without a described body: {sorted(untyped)}"
    me = spec["paths"]["/api/me"]["get"]["responses"]["200"]["content"]["application/json"]
    fields = spec["components"]["schemas"][me["schema"]["$ref"].rsplit("/", 1)[1]]["properties"]
    assert {"username", "role", "display_name", "unit", "csrf"} <= set(fields)


async def test_json_lists_are_paged_not_cut(client):
    """A list under /api takes page and size and declares the paging headers; none takes a
    `limit`, which cut the list with no sign of the rows beyond it."""
    spec = (await client.get("/schema/openapi.json")).json()
    limited, undeclared = [], []
    for path, ops in spec["paths"].items():
        op = ops.get("get")
        if not path.startswith("/api/") or op is None:
            continue
        names = {p["name"] for p in op.get("parameters", [])}
        if "limit" in names:
            limited.append(path)
        headers = set(op["responses"]["200"].get("headers", {}))
        if {"page", "size"} <= names and not {"X-Total-Count", "X-Page", "X-Page-Size"} <= headers:
            undeclared.append(path)
    assert limited == [] and undeclared == [], (limited, undeclared)
    assert {"/api/mail", "/api/jobs/{job_id}/runs", "/api/inbox"} <= {
        path for path, ops in spec["paths"].items()
        if {"page", "size"} <= {p["name"] for p in ops.get("get", {}).get("parameters", [])}}


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"username": "x" * 100, "password": "p"}, "username", "最多 64 个字符"),
    ({"username": 5, "password": "p"}, "username", "应为文本，收到的是整数"),
    ({"password": "p"}, "username", "缺少必填字段 username"),
    ({"username": "a", "password": "b", "evil": 1}, "evil", "不认识的字段 evil"),
    ([1, 2], "data", "应为对象，收到的是列表"),
])
async def test_a_malformed_body_is_refused_naming_the_field(client, body, field, words):
    r = await client.post("/api/login", json=body)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["field"] == field and words in error["message"], error


async def test_typed_answers_carry_their_fields(client, db):
    await make_user("ops", "admin")
    await login(client, "ops")
    token = (await client.post("/api/login", json={"username": "ops", "password": "password1"}))
    assert token.status_code == 201 and set(token.json()) == {"token", "role", "expires_at"}
    jobs = (await client.get("/api/jobs")).json()
    assert jobs and {"id", "description", "trigger", "next_run", "last_run"} == set(jobs[0])
    mail = await client.get("/api/mail")
    assert set(mail.json()) == {"counts", "messages"} and mail.headers["X-Total-Count"] == "0"
    missing = await client.post("/api/mail/999/retry", headers={"X-CSRF-Token": await login(client, "ops")})
    assert missing.status_code == 404 and "999" in missing.json()["error"]["message"]
    exports = (await client.get("/api/exports")).json()
    assert exports and {"name", "title", "plugin", "roles", "needs_period", "kind",
                        "download"} == set(exports[0])


@pytest.mark.parametrize(("method", "url", "body", "field", "words"), [
    ("get", "/api/inbox?size=201", None, "size", "参数 size 无效：不能大于 200"),
    ("get", "/api/inbox?unread=maybe", None, "unread", "参数 unread 无效"),
    ("get", "/api/mail?size=201", None, "size", "参数 size 无效：不能大于 200"),
    ("get", "/api/mail?page=0", None, "page", "参数 page 无效：不能小于 1"),
    ("get", "/api/jobs/core.mail/runs?size=0", None, "size", "参数 size 无效：不能小于 1"),
    ("get", "/api/jobs/core.mail/runs?size=201", None, "size", "参数 size 无效：不能大于 200"),
    ("get", "/api/audit?per_page=501", None, "per_page", "参数 per_page 无效：不能大于 500"),
    ("get", "/api/audit?actor=" + "x" * 101, None, "actor", "参数 actor 无效：最多 100 个字符"),
    ("get", "/api/audit?object_id=" + "9" * 65, None, "object_id", "最多 64 个字符"),
    ("post", "/api/assessments/apply", {}, "text", "缺少必填字段 text"),
    ("post", "/api/assessments/apply", {"text": 5}, "text", "应为文本，收到的是整数"),
    ("post", "/api/assessments/apply", {"text": "", "apply": "1"}, "apply", "不认识的字段 apply"),
    ("post", "/api/assessments/apply", {"text": "#" * 1_000_001}, "text", "最多 1000000 个字符"),
])
async def test_core_operations_refuse_a_bad_query_or_body_naming_the_field(
        client, db, method, url, body, field, words):
    await make_user("ops", "admin")
    csrf = await login(client, "ops")
    if method == "get":
        r = await client.get(url)
    else:
        r = await client.post(url, json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["field"] == field and words in error["message"], error


async def test_core_answers_carry_their_fields(client, db):
    from core import audit, notify
    from core.accounts import User

    await make_user("ops", "admin")
    csrf = await login(client, "ops")
    plugins = (await client.get("/api/plugins")).json()
    assert plugins and set(plugins[0]) == {"name", "module", "version", "distribution", "error",
                                           "contributes"}
    ops = await User.get(username="ops")
    for n in range(3):
        await notify.notify([ops], f"第 {n} 条", key=f"shape:{n}", link="/inbox")
    r = await client.get("/api/inbox", params={"size": 2, "page": 2})
    assert r.headers["X-Total-Count"] == "3" and r.headers["X-Page"] == "2"
    assert [m["subject"] for m in r.json()] == ["第 0 条"]  # newest first: the oldest is last
    assert set(r.json()[0]) == {"id", "subject", "body", "link", "created_at", "read"}
    applied = await client.post("/api/assessments/apply", json={"text": "x = ["},
                                headers={"X-CSRF-Token": csrf})
    assert applied.status_code == 422 and applied.json()["error"]["code"] == "definition_invalid"
    assert (await client.get("/api/assessments")).json() == []
    await audit.record_bulk("shape.test", "thing", range(7))
    r = await client.get("/api/audit", params={"action": "shape.", "per_page": 5, "page": 2})
    body = r.json()
    assert body["total"] == 7 and len(body["entries"]) == 2 and r.headers["X-Total-Count"] == "7"
    assert set(body["entries"][0]) == {"id", "at", "actor", "action", "object_type", "object_id",
                                       "before", "after", "reason", "hash", "prev_hash"}
    verify = (await client.get("/api/audit/verify")).json()
    assert {"ok", "entries_checked", "broken_entry", "state", "missing", "refused_anchor_lines",
            "latest_anchor", "findings"} == set(verify)
    assert verify["findings"] and {"level", "message"} == set(verify["findings"][0])
