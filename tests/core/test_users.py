"""User accounts: `kaohe users create|list|disable|reset-password` and the admin page /users."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from core.accounts import Session, User
from core.audit import AuditEntry
from tests.conftest import login, make_user, seed_units, with_db

# -- CLI ----------------------------------------------------------------------------------------

def _cli(settings, *args, input=None):
    from core.cli import cli
    from core.commands import register_core_commands

    register_core_commands(cli)
    return CliRunner().invoke(cli, ["--settings", str(settings.source), *args], input=input)


def _units(settings):
    with_db(settings, seed_units)


def test_cli_create_and_list(settings):
    _units(settings)
    r = _cli(settings, "users", "create", "zhang", "--role", "admin", "--password", "lantern-s3cret",
             "--name", "张三", "--email", "zhang@example.org")
    assert r.exit_code == 0 and "zhang (admin) created" in r.output, r.output
    r = _cli(settings, "users", "create", "li", "--role", "unit_officer", "--unit", "520102",
             "--password", "lantern-s3cret")
    assert r.exit_code == 0, r.output
    r = _cli(settings, "users", "list")
    assert r.exit_code == 0
    lines = sorted(line.split("\t") for line in r.output.strip().splitlines())
    assert lines == [["li", "unit_officer", "520102", "active"], ["zhang", "admin", "-", "active"]]

    async def check():
        user = await User.get(username="zhang")
        entry = await AuditEntry.get(action="user.create", object_id="zhang")
        return user, entry

    user, entry = with_db(settings, check)
    assert user.password_hash.startswith("$argon2") and user.check_password("lantern-s3cret")
    assert user.display_name == "张三" and user.email == "zhang@example.org"
    assert entry.actor == "cli" and entry.after["role"] == "admin"
    assert "password_hash" not in entry.after


def test_cli_create_prompts_for_the_password_twice(settings):
    r = _cli(settings, "users", "create", "wang", "--role", "leader",
             input="pw-one-111\npw-one-111\n")
    assert r.exit_code == 0, r.output
    r = _cli(settings, "users", "create", "zhao", "--role", "leader",
             input="pw-one-111\npw-two-222\npw-one-111\npw-one-111\n")
    assert r.exit_code == 0 and "do not match" in r.output


@pytest.mark.parametrize("args, message", [
    (["--role", "unit_officer"], "unit: a unit_officer must be bound to one org unit"),
    (["--role", "unit_officer", "--unit", "999999"], "--unit: no org unit with code '999999'"),
    (["--role", "admin", "--password", "short"], "password: at least 8 characters"),
    (["--role", "boss"], "Invalid value for '--role'"),
])
def test_cli_create_rejects_bad_input(settings, args, message):
    _units(settings)
    if "--password" not in args:
        args = [*args, "--password", "lantern-s3cret"]
    r = _cli(settings, "users", "create", "bad", *args)
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert with_db(settings, lambda: User.filter(username="bad").count()) == 0


def test_cli_create_refuses_a_taken_name(settings):
    assert _cli(settings, "users", "create", "dup", "--role", "admin",
                "--password", "lantern-s3cret").exit_code == 0
    r = _cli(settings, "users", "create", "dup", "--role", "leader", "--password", "lantern-s3cret")
    assert r.exit_code == 2 and "username: 'dup' already exists" in r.output
    assert with_db(settings, lambda: User.get(username="dup")).role == "admin"


def test_cli_disable_ends_sessions_and_blocks_login(settings):
    from core import accounts

    async def setup():
        user = await make_user("ma", "leader")
        await accounts.start_session(user, hours=1)

    with_db(settings, setup)
    r = _cli(settings, "users", "disable", "ma")
    assert r.exit_code == 0 and "disabled" in r.output

    async def check():
        user = await User.get(username="ma")
        return (user.is_active, await Session.filter(user=user).count(),
                await AuditEntry.filter(action="user.disable", object_id="ma", actor="cli").count())

    assert with_db(settings, check) == (False, 0, 1)
    assert "ma\tleader\t-\tdisabled" in _cli(settings, "users", "list").output
    r = _cli(settings, "users", "disable", "nobody")
    assert r.exit_code == 2 and "no user 'nobody'" in r.output


def test_cli_reset_password(settings):
    with_db(settings, lambda: make_user("zhou", "instructor", password="old-password"))
    r = _cli(settings, "users", "reset-password", "zhou", input="new-password\nnew-password\n")
    assert r.exit_code == 0 and "password of zhou reset" in r.output

    async def check():
        user = await User.get(username="zhou")
        entry = await AuditEntry.get(action="user.reset_password", object_id="zhou")
        return user.check_password("new-password"), user.check_password("old-password"), entry

    new_ok, old_ok, entry = with_db(settings, check)
    assert new_ok and not old_ok
    assert entry.before is None and entry.after is None  # no password material in the trail
    r = _cli(settings, "users", "reset-password", "zhou", "--password", "short")
    assert r.exit_code == 2 and "password: at least 8 characters" in r.output
    assert _cli(settings, "users", "reset-password", "ghost", "--password",
                "long-enough").exit_code == 2


# -- the admin page -------------------------------------------------------------------------------

async def _admin(client) -> str:
    await seed_units()
    await make_user("root", "admin")
    return await login(client, "root")


async def test_page_lists_users(client):
    await _admin(client)
    await make_user("officer", "unit_officer", unit_code="520102")
    r = await client.get("/users")
    assert r.status_code == 200
    assert re.findall(r'data-user="([^"]+)"', r.text) == ["officer", "root"]
    assert "南明区" in r.text and "520102" in r.text


async def test_page_creates_a_unit_officer(client):
    csrf = await _admin(client)
    r = await client.post("/users", data={
        "_csrf": csrf, "username": "liu", "display_name": "刘", "email": "", "role": "unit_officer",
        "unit": "520103", "password": "pass-word-1"})
    assert r.status_code in (302, 303), r.text
    assert "liu" in (await client.get(r.headers["location"])).text
    user = await User.get(username="liu").select_related("unit")
    assert user.unit.code == "520103" and user.role == "unit_officer" and user.is_active
    entry = await AuditEntry.get(action="user.create", object_id="liu")
    assert entry.actor == "root" and entry.after["unit_id"] == user.unit.id
    assert "password_hash" not in entry.after
    client.cookies.clear()
    await login(client, "liu", "pass-word-1")


@pytest.mark.parametrize("form, field", [
    ({"username": "has space", "role": "admin"}, "username"),
    ({"username": "root", "role": "admin"}, "username"),
    ({"username": "x1", "role": "boss"}, "role"),
    ({"username": "x1", "role": "unit_officer"}, "unit"),
    ({"username": "x1", "role": "unit_officer", "unit": "000"}, "unit"),
    ({"username": "x1", "role": "admin", "password": "short"}, "password"),
])
async def test_page_create_errors_name_the_field_and_change_nothing(client, form, field):
    csrf = await _admin(client)
    before = await AuditEntry.all().count()
    data = {"_csrf": csrf, "password": "pass-word-1", **form}
    r = await client.post("/users", data=data)
    assert r.status_code in (409, 422)
    # The password rules and the unit picker name the field in Chinese.
    named = {"password": "密码：", "unit": "unit：" if "unit" not in form else "所属单位："}.get(
        field, f"{field}：")
    assert f'data-field="{field}"' in r.text and named in r.text
    assert 'value="short"' not in r.text  # the password is never echoed back
    assert await User.all().count() == 1 and await AuditEntry.all().count() == before


async def test_page_writes_need_the_csrf_token(client):
    await _admin(client)
    target = await make_user("victim", "leader")
    for path, data in (("/users", {"username": "evil", "role": "admin", "password": "pass-word-1"}),
                       (f"/users/{target.id}/disable", {}),
                       (f"/users/{target.id}/password", {"password": "pass-word-9"})):
        r = await client.post(path, data=data)
        assert r.status_code == 403 and "csrf" in r.text.lower(), path
        r = await client.post(path, data={**data, "_csrf": "forged"})
        assert r.status_code == 403, path
    target = await User.get(username="victim")
    assert target.is_active and target.check_password("password1")
    assert not await User.exists(username="evil")


async def test_page_disable_enable_and_reset(client):
    from core import accounts

    csrf = await _admin(client)
    user = await make_user("chen", "leader")
    await accounts.start_session(user, hours=1)
    # Without the confirmation step's mark the post leads to that step and changes nothing.
    r = await client.post(f"/users/{user.id}/disable", data={"_csrf": csrf})
    assert r.status_code in (302, 303) and r.headers["location"] == f"/users/{user.id}/disable"
    assert (await User.get(id=user.id)).is_active
    r = await client.post(f"/users/{user.id}/disable", data={"_csrf": csrf, "confirm": "1"})
    assert r.status_code in (302, 303)
    assert not (await User.get(id=user.id)).is_active
    assert await Session.filter(user_id=user.id).count() == 0
    r = await client.post(f"/users/{user.id}/disable",
                          data={"_csrf": csrf, "confirm": "1"})  # already disabled
    assert r.status_code in (302, 303)
    assert await AuditEntry.filter(action="user.disable", object_id="chen").count() == 1
    r = await client.post(f"/users/{user.id}/enable", data={"_csrf": csrf})
    assert (await User.get(id=user.id)).is_active
    entry = await AuditEntry.get(action="user.enable", object_id="chen")
    assert entry.before == {"is_active": False} and entry.after == {"is_active": True}

    await accounts.start_session(user, hours=1)
    r = await client.post(f"/users/{user.id}/password", data={"_csrf": csrf, "password": "short"})
    assert r.status_code == 422 and 'data-field="password"' in r.text
    assert (await User.get(id=user.id)).check_password("password1")
    r = await client.post(f"/users/{user.id}/password",
                          data={"_csrf": csrf, "password": "brand-new-pw"})
    assert r.status_code in (302, 303)
    fresh = await User.get(id=user.id)
    assert fresh.check_password("brand-new-pw") and not fresh.check_password("password1")
    assert await Session.filter(user_id=user.id).count() == 0
    assert await AuditEntry.filter(action="user.reset_password", object_id="chen",
                                   actor="root").count() == 1


async def test_page_refuses_to_disable_yourself_and_unknown_users(client):
    csrf = await _admin(client)
    me = await User.get(username="root")
    r = await client.post(f"/users/{me.id}/disable", data={"_csrf": csrf, "confirm": "1"},
                          headers={"accept": "application/json"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "self_disable"
    assert (await User.get(id=me.id)).is_active
    r = await client.post("/users/9999/enable", data={"_csrf": csrf},
                          headers={"accept": "application/json"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "user_not_found"


async def test_page_is_for_admins_only(client):
    await seed_units()
    await make_user("lead", "leader")
    csrf = await login(client, "lead")
    target = await make_user("other", "instructor")
    assert (await client.get("/users", headers={"accept": "application/json"})).status_code == 403
    r = await client.post(f"/users/{target.id}/disable", data={"_csrf": csrf},
                          headers={"accept": "application/json"})
    assert r.status_code == 403
    assert (await User.get(id=target.id)).is_active


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_admin_service_pages_have_every_text_in_both_languages(client, lang):
    """/users, /audit and /calendar show no raw message keys (a key missing from a catalog)."""
    from core import i18n

    await _admin(client)
    client.cookies.set("lang", lang)
    for path in ("/users", "/audit", "/calendar", "/calendar?start=2026-09-30&days=3"):
        r = await client.get(path)
        assert r.status_code == 200, path
        raw = re.findall(r"(?<![\w/.-])(?:users|audit|calendar|role)\.[a-z_]+(?![\w/-])", r.text)
        assert raw == [], (path, raw)
    assert [k for k in i18n.missing("en") if k.split(".")[0] in ("users", "audit", "calendar")] == []
