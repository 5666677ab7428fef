"""/schema describes API bodies by their fields, and a malformed body is refused naming the
field, in the caller's language.

The operations still answering untyped bodies are listed here; the list may only shrink: a new
API operation must declare its request and response shapes.
"""

from __future__ import annotations

import pytest

from tests.conftest import login, make_user

# Still untyped: the plugin APIs that keep hand-built dictionaries (to be typed next).
UNTYPED_PREFIXES = ("/api/ranking/",)
UNTYPED = {
    "GET /api/plugins", "GET /api/inbox", "GET /api/assessments", "POST /api/assessments/apply",
    "GET /api/audit", "GET /api/audit/verify",
}


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


async def test_schema_describes_every_core_and_survey_body(client):
    spec = (await client.get("/schema/openapi.json")).json()
    untyped = _untyped(spec)
    new = {op for op in untyped - UNTYPED if not op.split(" ", 1)[1].startswith(UNTYPED_PREFIXES)}
    assert not new, f"operations without a described body: {sorted(new)}"
    assert UNTYPED <= untyped, f"typed now, drop from UNTYPED: {sorted(UNTYPED - untyped)}"
    me = spec["paths"]["/api/me"]["get"]["responses"]["200"]["content"]["application/json"]
    fields = spec["components"]["schemas"][me["schema"]["$ref"].rsplit("/", 1)[1]]["properties"]
    assert {"username", "role", "display_name", "unit", "csrf"} <= set(fields)


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
    assert (await client.get("/api/jobs/x/runs?limit=1001")).status_code == 400
    mail = (await client.get("/api/mail")).json()
    assert set(mail) == {"counts", "messages"}
    missing = await client.post("/api/mail/999/retry", headers={"X-CSRF-Token": await login(client, "ops")})
    assert missing.status_code == 404 and "999" in missing.json()["error"]["message"]
    exports = (await client.get("/api/exports")).json()
    assert exports and {"name", "title", "plugin", "roles", "needs_period", "kind",
                        "download"} == set(exports[0])
