"""API tokens: they expire, end with a password reset, disable or role change, and are listed
and revoked on /tokens (users their own, admins anyone's), audited."""

from __future__ import annotations

import datetime as dt
import re

from core.accounts import ApiToken, Session, User
from core.audit import AuditEntry
from tests.conftest import login, make_user, seed_units


async def _token(client, username: str, password: str = "password1", name: str = "api") -> str:
    r = await client.post("/api/login", json={"username": username, "password": password,
                                              "name": name})
    assert r.status_code == 201, r.text
    return r.json()["token"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_token_carries_its_expiry_and_stops_working_after_it(client):
    await make_user("t1", "admin")
    r = await client.post("/api/login", json={"username": "t1", "password": "password1"})
    days = client.app.state.settings.security.token_days
    expires = dt.datetime.fromisoformat(r.json()["expires_at"])
    assert abs((expires - dt.datetime.now(dt.UTC)) - dt.timedelta(days=days)) < dt.timedelta(minutes=1)
    token = r.json()["token"]
    assert (await client.get("/api/me", headers=_bearer(token))).status_code == 200
    await ApiToken.all().update(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    assert (await client.get("/api/me", headers=_bearer(token))).status_code == 401


async def test_a_token_from_before_expiry_existed_counts_from_its_issue(client):
    await make_user("t2", "admin")
    token = await _token(client, "t2")
    days = client.app.state.settings.security.token_days
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=days + 1)
    await ApiToken.all().update(expires_at=None, created_at=old)
    assert (await client.get("/api/me", headers=_bearer(token))).status_code == 401


async def _admin_session(client) -> str:
    await make_user("boss", "admin")
    return await login(client, "boss")


async def test_password_reset_revokes_tokens_and_sessions(client):
    victim = await make_user("t3", "instructor")
    token = await _token(client, "t3")
    csrf = await _admin_session(client)
    r = await client.post(f"/users/{victim.id}/password",
                          data={"_csrf": csrf, "password": "brand-new-pw"})
    assert r.status_code in (302, 303), r.text
    assert (await client.get("/api/me", headers=_bearer(token))).status_code == 401
    row = await ApiToken.get(user_id=victim.id)
    assert row.revoked and row.revoked_at is not None
    entry = await AuditEntry.get(action="token.revoke", object_type="api_token",
                                 object_id=str(row.id))
    assert entry.reason == "user.reset_password" and entry.actor == "boss"


async def test_disable_revokes_tokens(client):
    victim = await make_user("t4", "leader")
    token = await _token(client, "t4")
    csrf = await _admin_session(client)
    await client.post(f"/users/{victim.id}/disable", data={"_csrf": csrf, "confirm": "1"})
    await client.post(f"/users/{victim.id}/enable", data={"_csrf": csrf})
    # enabling again does not bring the old token back
    assert (await client.get("/api/me", headers=_bearer(token))).status_code == 401
    assert await ApiToken.filter(user_id=victim.id, revoked=True).count() == 1


async def test_role_change_ends_logins_and_is_audited(client):
    await seed_units()
    victim = await make_user("t5", "instructor")
    token = await _token(client, "t5")
    csrf = await _admin_session(client)
    r = await client.post(f"/users/{victim.id}/role",
                          data={"_csrf": csrf, "role": "unit_officer", "unit": "520102"})
    assert r.status_code in (302, 303), r.text
    fresh = await User.get(id=victim.id).select_related("unit")
    assert fresh.role == "unit_officer" and fresh.unit.code == "520102"
    assert (await client.get("/api/me", headers=_bearer(token))).status_code == 401
    entry = await AuditEntry.get(action="user.change_role", object_id="t5")
    assert entry.before["role"] == "instructor" and entry.after["role"] == "unit_officer"
    # bad input names the field and changes nothing
    r = await client.post(f"/users/{victim.id}/role", data={"_csrf": csrf, "role": "unit_officer",
                                                            "unit": ""})
    assert r.status_code == 422 and 'data-field="unit"' in r.text
    r = await client.post(f"/users/{victim.id}/role", data={"_csrf": csrf, "role": "king"})
    assert r.status_code == 422 and 'data-field="role"' in r.text
    assert (await User.get(id=victim.id)).role == "unit_officer"
    # nobody changes their own role (the last admin cannot demote themselves)
    me = await User.get(username="boss")
    r = await client.post(f"/users/{me.id}/role", data={"_csrf": csrf, "role": "leader"},
                          headers={"accept": "application/json"})
    assert r.status_code == 409 and (await User.get(id=me.id)).role == "admin"


async def test_users_list_and_revoke_their_own_tokens_only(client):
    await make_user("own", "instructor")
    await make_user("other", "instructor")
    mine = await _token(client, "own", name="脚本甲")
    theirs = await _token(client, "other", name="别人的")
    csrf = await login(client, "own")
    r = await client.get("/tokens", headers={"accept": "text/html"})
    assert r.status_code == 200 and "脚本甲" in r.text and "别人的" not in r.text
    assert "有效" in r.text and "撤销" in r.text
    other_row = await ApiToken.get(name="别人的")
    r = await client.post(f"/tokens/{other_row.id}/revoke", data={"_csrf": csrf},
                          headers={"accept": "application/json"})
    assert r.status_code == 404 and not (await ApiToken.get(id=other_row.id)).revoked
    own_row = await ApiToken.get(name="脚本甲")
    r = await client.post(f"/tokens/{own_row.id}/revoke", data={"_csrf": csrf})
    assert r.status_code in (302, 303)
    assert (await client.get("/api/me", headers=_bearer(mine))).status_code == 401
    assert (await client.get("/api/me", headers=_bearer(theirs))).status_code == 200
    entry = await AuditEntry.get(action="token.revoke", object_id=str(own_row.id))
    assert entry.actor == "own"
    r = await client.get("/tokens", headers={"accept": "text/html"})
    assert "已撤销" in r.text
    # without the CSRF token nothing is revoked
    r = await client.post(f"/tokens/{own_row.id}/revoke", data={})
    assert r.status_code == 403


async def test_admins_list_and_revoke_anyones_tokens(client):
    await make_user("someone", "leader")
    token = await _token(client, "someone", name="报表脚本")
    csrf = await _admin_session(client)
    r = await client.get("/tokens?user=someone", headers={"accept": "text/html"})
    assert r.status_code == 200 and "报表脚本" in r.text and "someone" in r.text
    row = await ApiToken.get(name="报表脚本")
    r = await client.post(f"/tokens/{row.id}/revoke", data={"_csrf": csrf})
    assert r.status_code in (302, 303)
    assert (await client.get("/api/me", headers=_bearer(token))).status_code == 401
    entry = await AuditEntry.get(action="token.revoke", object_id=str(row.id))
    assert entry.actor == "boss" and entry.after["user"] == "someone"
    r = await client.post("/tokens/99999/revoke", data={"_csrf": csrf},
                          headers={"accept": "application/json"})
    assert r.status_code == 404


async def test_tokens_page_in_english_has_no_code_words(client):
    await make_user("en1", "leader")
    await _token(client, "en1")
    await login(client, "en1")
    client.cookies.set("lang", "en")
    r = await client.get("/tokens", headers={"accept": "text/html"})
    assert r.status_code == 200 and "API access tokens" in r.text and "Valid" in r.text
    main = r.text.split("<main>")[1]
    assert not re.search(r"tokens\.[a-z_]+", main) and ">active<" not in main


async def test_sessions_survive_nothing_but_their_own_logout(client):
    """A role change on another user leaves the admin's own session alone."""
    await seed_units()
    victim = await make_user("t6", "leader")
    csrf = await _admin_session(client)
    await client.post(f"/users/{victim.id}/role", data={"_csrf": csrf, "role": "admin"})
    assert (await client.get("/api/me")).status_code == 200
    assert await Session.filter(user_id=victim.id).count() == 0
