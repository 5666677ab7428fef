"""One user's page for admins: name, mail, role and unit with each refusal beside its field;
disabling or a new role ends the old role on every plugin inside the same transaction (a
probe plugin's kaohe_user_leaves_role and kaohe_user_panels), audited."""

from __future__ import annotations

import types

import httpx
import pytest

from core import clock
from core.accounts import Session, User
from core.audit import AuditEntry
from core.contrib import Notice, Panel
from core.hookspecs import hookimpl
from tests.conftest import login, make_user, seed_units, write_settings


def _probe(tmp_path, fail: bool = False):
    seen: list[tuple[str, str, str]] = []
    (tmp_path / "probe").mkdir(exist_ok=True)
    (tmp_path / "probe" / "user.html").write_text(
        '<section id="probe-user">{{ panel.context.says }}</section>', "utf-8")
    m = types.ModuleType("probe_users")

    @hookimpl
    def kaohe_template_dirs():
        return [str(tmp_path)]

    @hookimpl
    async def kaohe_user_leaves_role(user, role, reason):
        seen.append((user.username, role, reason))
        # Inside the caller's transaction: the account is already disabled there.
        if fail:
            raise RuntimeError("probe refuses")
        return [Notice("units.added", {"level": "探针", "name": user.username})]

    @hookimpl
    def kaohe_user_panels(user):
        return [Panel("probe/user.html", {"says": f"探针看见 {user.username}"})]

    for name, value in list(locals().items()):
        if name.startswith("kaohe_"):
            setattr(m, name, value)
    return m, seen


@pytest.fixture
def probe_app(tmp_path, db_url, request):
    from core.boot import boot

    module, seen = _probe(tmp_path, fail=getattr(request, "param", False))
    settings, host = boot(str(write_settings(tmp_path / "cfg", db_url)),
                          extra_plugins={"probe": module})
    return settings, host, seen


async def _client(settings, host):
    from core.app import create_app, platform_lifespan

    app = create_app(settings, host, run_scheduler=False)
    return app, platform_lifespan(app)


async def test_edit_page_saves_and_refuses_beside_each_field(probe_app):
    settings, host, seen = probe_app
    app, lifespan = await _client(settings, host)
    async with lifespan, httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                           base_url="http://t") as c:
        await seed_units()
        me = await make_user("adm", "admin")
        target = await make_user("wu", "instructor")
        csrf = await login(c, "adm")
        page = await c.get(f"/users/{target.id}/edit")
        assert page.status_code == 200 and "探针看见 wu" in page.text
        r = await c.post(f"/users/{target.id}/edit", data={
            "_csrf": csrf, "display_name": "", "email": "not-a-mail", "role": "boss",
            "unit": "999"})
        assert r.status_code == 422
        for name in ("display_name", "email", "role", "unit"):
            assert f'id="err-{name}"' in r.text, name
        assert "“not-a-mail”不是有效的邮箱地址" in r.text and "所属单位：没有名称或代码为“999”的单位" in r.text
        r = await c.post(f"/users/{target.id}/edit", data={
            "_csrf": csrf, "display_name": "吴", "email": "", "role": "unit_officer", "unit": ""})
        assert r.status_code == 422 and "责任单位联络员必须绑定一个组织单位" in r.text
        r = await c.post(f"/users/{target.id}/edit", data={
            "_csrf": csrf, "display_name": "吴", "email": "", "role": "instructor",
            "unit": "520102"})
        assert r.status_code == 422 and "党建指导员不绑定组织单位，请清空此项" in r.text
        r = await c.post(f"/users/{me.id}/edit", data={
            "_csrf": csrf, "display_name": "我", "email": "", "role": "leader", "unit": ""})
        assert r.status_code == 422 and "不能变更自己的角色" in r.text
        assert seen == [] and (await User.get(id=target.id)).display_name == "wu"
        # A mail address only: saved and audited, logins kept, the role untouched.
        await Session.create(token_hash="x" * 64, user=target, csrf_token="c",
                             expires_at=clock.now())
        r = await c.post(f"/users/{target.id}/edit", data={
            "_csrf": csrf, "display_name": "吴指导员", "email": "wu@example.cn",
            "role": "instructor", "unit": ""})
        assert r.status_code in (302, 303)
        entry = await AuditEntry.get(action="user.update", object_id="wu")
        assert entry.after == {"display_name": "吴指导员", "email": "wu@example.cn"}
        assert await Session.filter(user_id=target.id).exists() and seen == []
        # A new role ends the logins and the old role on the plugins.
        r = await c.post(f"/users/{target.id}/edit", data={
            "_csrf": csrf, "display_name": "吴指导员", "email": "wu@example.cn",
            "role": "unit_officer", "unit": "520102"})
        assert r.status_code in (302, 303)
        assert seen == [("wu", "instructor", "role_changed")]
        assert not await Session.filter(user_id=target.id).exists()
        assert "已新增探针：wu" in (await c.get(r.headers["location"])).text
        c.cookies.set("lang", "en")
        r = await c.post(f"/users/{target.id}/edit", data={
            "_csrf": csrf, "display_name": "x", "email": "bad", "role": "leader", "unit": ""})
        assert r.status_code == 422 and "&#39;bad&#39; is not a mail address" in r.text


async def test_disable_ends_the_role_on_plugins(probe_app):
    settings, host, seen = probe_app
    app, lifespan = await _client(settings, host)
    async with lifespan, httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                           base_url="http://t") as c:
        await make_user("adm", "admin")
        target = await make_user("wu", "instructor")
        csrf = await login(c, "adm")
        page = (await c.get(f"/users/{target.id}/disable")).text
        assert "停用账号：wu" in page and "探针看见 wu" in page
        r = await c.post(f"/users/{target.id}/disable", data={"_csrf": csrf, "confirm": "1"})
        assert r.status_code in (302, 303) and r.headers["location"].startswith(
            f"/users/{target.id}/edit")
        assert seen == [("wu", "instructor", "disabled")]
        assert not (await User.get(id=target.id)).is_active
        assert await AuditEntry.filter(action="user.disable", object_id="wu").exists()
        me = await User.get(username="adm")
        assert (await c.get(f"/users/{me.id}/disable")).status_code == 409


@pytest.mark.parametrize("probe_app", [True], indirect=True)
async def test_a_plugin_that_fails_leaves_the_account_as_it_was(probe_app):
    """Nothing half-written: the plugin's refusal rolls back the disable and its audit."""
    settings, host, seen = probe_app
    app, lifespan = await _client(settings, host)
    async with lifespan, httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                           base_url="http://t") as c:
        await make_user("adm", "admin")
        target = await make_user("wu", "instructor")
        csrf = await login(c, "adm")
        r = await c.post(f"/users/{target.id}/disable", data={"_csrf": csrf, "confirm": "1"},
                         headers={"accept": "application/json"})
        assert r.status_code == 500 and seen == [("wu", "instructor", "disabled")]
        assert (await User.get(id=target.id)).is_active
        assert not await AuditEntry.filter(action="user.disable").exists()
