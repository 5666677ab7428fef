"""The admin's pages of one organization, one instructor and the denominator history:
editing, closing after a confirmation, reopening, assigning and ending instructors; disabling
an instructor ends their assignments in the same transaction, and the organizations left
without one are reassigned from the user's page. Every change is audited."""

from __future__ import annotations

import datetime as dt

import pytest

from core import audit, clock
from core.accounts import User
from core.audit import AuditEntry
from plugins.coverage.models import InstructorAssignment, Organization, OrganizationHistory
from plugins.coverage.stats import unit_figures
from tests.conftest import login, make_user
from tests.plugins.coverage.world import build_world


@pytest.fixture(autouse=True)
def in_november_2014(settings):
    """The platform lives on 2014-11-15: an assignment ended today stops counting in 2014Q4."""
    clock.travel(dt.date(2014, 11, 15))
    yield
    clock.travel(None)


async def _admin(client) -> tuple[dict, str]:
    w = await build_world()
    await make_user("boss", "admin")
    return w, await login(client, "boss")


async def test_edit_an_organization_and_refuse_bad_fields(client):
    w, csrf = await _admin(client)
    org = w["orgs"]["E4"]
    page = await client.get(f"/coverage/org/{org.uscc}")
    assert page.status_code == 200 and "组织E4" in page.text and "张" not in page.text[:0]
    r = await client.post(f"/coverage/org/{org.uscc}/edit", data={
        "_csrf": csrf, "name": "组织E4（更名）", "kind": "social", "industry": "餐饮",
        "community": "520103001", "employees": "12", "formal_members": "4",
        "probationary_members": "1", "valid_from": "2013-05-01"})
    assert r.status_code in (302, 303), r.text[-500:]
    org = await Organization.get(id=org.id).select_related("community")
    assert (org.name, org.kind, org.community.code, org.formal_members) == (
        "组织E4（更名）", "social", "520103001", 4)
    entry = await AuditEntry.filter(action="coverage.org.update", object_id=org.uscc).first()
    assert entry.before["kind"] == "enterprise" and entry.after["kind"] == "social"
    hist = await OrganizationHistory.filter(organization_id=org.id, source="admin").first()
    assert hist.before["kind"] == "enterprise" and hist.after["kind"] == "social"
    page = (await client.get(f"/coverage/org/{org.uscc}")).text
    assert "管理员修改" in page and "非公企业 → 社会组织" in page and "花果园社区 → 黔灵社区" in page
    r = await client.post(f"/coverage/org/{org.uscc}/edit", data={
        "_csrf": csrf, "name": "", "kind": "shop", "community": "520102",
        "employees": "-1", "formal_members": "3.5", "valid_from": "2014-13-01"})
    assert r.status_code == 422
    for name in ("name", "kind", "community", "employees", "formal_members", "valid_from"):
        assert f'id="err-{name}"' in r.text, name
    assert "：单位“南明区（520102）”不是社区 / 乡镇，此处只能选择社区 / 乡镇" in r.text
    assert "应为日期（yyyy-mm-dd），实际为“2014-13-01”" in r.text
    assert (await Organization.get(id=org.id)).name == "组织E4（更名）"


async def test_close_after_confirmation_then_reopen(client):
    w, csrf = await _admin(client)
    org = w["orgs"]["E1"]
    r = await client.post(f"/coverage/org/{org.uscc}/close", data={
        "_csrf": csrf, "status": "gone", "closed_on": "", "reason": ""})
    assert r.status_code == 422
    for name in ("status", "closed_on", "reason"):
        assert f'id="err-{name}"' in r.text, name
    form = {"_csrf": csrf, "status": "moved", "closed_on": "2014-10-08", "reason": "迁往外省"}
    r = await client.post(f"/coverage/org/{org.uscc}/close", data=form)
    assert r.status_code == 200 and 'id="org-close-confirm"' in r.text
    assert "从 2014-10-08 起不再计入" in r.text
    assert (await Organization.get(id=org.id)).closed_on is None  # nothing written yet
    r = await client.post(f"/coverage/org/{org.uscc}/close", data={**form, "confirm": "1"})
    assert r.status_code in (302, 303)
    org = await Organization.get(id=org.id)
    assert (org.status, org.closed_on.isoformat()) == ("moved", "2014-10-08")
    entry = await AuditEntry.filter(action="coverage.org.close", object_id=org.uscc).first()
    assert entry.reason == "迁往外省" and entry.after["status"] == "moved"
    r = await client.post(f"/coverage/org/{org.uscc}/reopen", data={"_csrf": csrf})
    assert r.status_code in (302, 303)
    assert (await Organization.get(id=org.id)).closed_on is None
    assert await AuditEntry.filter(action="coverage.org.reopen", object_id=org.uscc).exists()
    assert (await client.get("/coverage/org/91520102000000000X")).status_code == 404


async def test_assign_and_end_an_instructor(client):
    w, csrf = await _admin(client)
    org = w["orgs"]["S3"]
    r = await client.post(f"/coverage/org/{org.uscc}/assign", data={
        "_csrf": csrf, "instructor": "nobody", "start_on": "2014-99-01"})
    assert r.status_code == 422 and "“nobody”不是在册的党建指导员账号" in r.text
    assert 'id="err-start_on"' in r.text
    r = await client.post(f"/coverage/org/{org.uscc}/assign", data={
        "_csrf": csrf, "instructor": "wang", "start_on": "2014-09-01"})
    assert r.status_code in (302, 303)
    row = await InstructorAssignment.get(organization_id=org.id, end_on=None)
    assert row.start_on.isoformat() == "2014-09-01"
    assert await AuditEntry.filter(action="coverage.assign", object_id=org.uscc).exists()
    r = await client.post(f"/coverage/org/{org.uscc}/assign", data={
        "_csrf": csrf, "instructor": "wang"})
    assert r.status_code == 422 and "已是本组织的现任党建指导员" in r.text
    r = await client.post(f"/coverage/org/{org.uscc}/unassign", data={
        "_csrf": csrf, "assignment": str(row.id)})
    assert r.status_code in (302, 303)
    assert (await InstructorAssignment.get(id=row.id)).end_on is not None
    assert await AuditEntry.filter(action="coverage.unassign", object_id=org.uscc).exists()
    r = await client.post(f"/coverage/org/{org.uscc}/unassign", data={
        "_csrf": csrf, "assignment": str(row.id)})
    assert r.status_code == 422 and "这项任职已结束" in r.text


async def test_disabling_an_instructor_ends_assignments_and_offers_reassignment(client):
    w, csrf = await _admin(client)
    zhang = w["people"]["zhang"]
    before = (await unit_figures("2014Q4", [w["units"]["520100"].id]))[
        w["units"]["520100"].id]["total"]
    page = (await client.get(f"/users/{zhang.id}/disable")).text
    assert "现负责 2 个组织" in page and 'id="user-disable-form"' in page
    r = await client.post(f"/users/{zhang.id}/disable", data={"_csrf": csrf, "confirm": "1"})
    assert r.status_code in (302, 303)
    assert r.headers["location"].startswith(f"/users/{zhang.id}/edit")
    assert not (await User.get(id=zhang.id)).is_active
    assert not await InstructorAssignment.filter(instructor_id=zhang.id, end_on=None).exists()
    ended = await AuditEntry.filter(action="coverage.unassign",
                                    reason=audit.said("coverage.said.user_disabled"))
    assert sorted(e.object_id for e in ended) == sorted([w["orgs"]["E4"].uscc,
                                                        w["orgs"]["E8"].uscc])
    after = (await unit_figures("2014Q4", [w["units"]["520100"].id]))[
        w["units"]["520100"].id]["total"]
    assert after.instructors == before.instructors - 1  # the figures stop counting zhang
    page = (await client.get(r.headers["location"])).text
    assert "结束了 2 项党建指导员任职，2 个组织现在没有指导员" in page
    assert "2 个组织因该用户的任职结束而没有党建指导员" in page and "组织E4" in page
    page = (await client.get(f"/coverage/instructors/{zhang.id}")).text
    assert 'id="reassign"' in page and "组织E8" in page
    r = await client.post(f"/coverage/instructors/{zhang.id}/reassign", data={
        "_csrf": csrf, "instructor": "zhao"})
    assert r.status_code == 422 and 'id="err-orgs"' in r.text and 'id="err-instructor"' in r.text
    r = await client.post(f"/coverage/instructors/{zhang.id}/reassign", data={
        "_csrf": csrf, "instructor": "li", "orgs": [str(w["orgs"]["E4"].id),
                                                    str(w["orgs"]["E8"].id)]})
    assert r.status_code in (302, 303)
    li = w["people"]["li"]
    assert await InstructorAssignment.filter(instructor_id=li.id, end_on=None).count() == 4
    entries = await AuditEntry.filter(
        action="coverage.assign", reason=audit.said("coverage.said.reassigned_from", user="zhang"))
    assert len(entries) == 2 and entries[0].after["instructor"] == "li"
    assert "没有待重新分配的组织" in (await client.get(r.headers["location"])).text


async def test_role_change_away_from_instructor_ends_assignments(client):
    w, csrf = await _admin(client)
    li = w["people"]["li"]
    r = await client.post(f"/users/{li.id}/edit", data={
        "_csrf": csrf, "display_name": "李", "email": "li@example.cn", "role": "leader",
        "unit": ""})
    assert r.status_code in (302, 303)
    assert not await InstructorAssignment.filter(instructor_id=li.id, end_on=None).exists()
    assert await AuditEntry.filter(action="user.update", object_id="li").exists()


async def test_denominator_history_page(client):
    w, csrf = await _admin(client)
    org = w["orgs"]["E2"]
    await client.post(f"/coverage/org/{org.uscc}/close", data={
        "_csrf": csrf, "status": "closed", "closed_on": "2014-11-03", "reason": "注销",
        "confirm": "1"})
    page = await client.get("/coverage/history")
    assert page.status_code == 200
    assert 'data-period="2014Q4"' in page.text and "组织E2" in page.text and "正常 → 注销" in page.text
    assert (await client.get("/coverage/history?period=2099")).status_code == 404


async def test_coded_values_read_in_the_readers_language(client):
    """Kinds, states and history read as labels of the reader's language, never as codes and
    never in Chinese on an English page (the workbooks keep the Chinese labels people type)."""
    w, csrf = await _admin(client)
    org = w["orgs"]["E4"]
    await client.post(f"/coverage/org/{org.uscc}/edit", data={
        "_csrf": csrf, "name": org.name, "kind": "social", "industry": "",
        "community": "520102001", "employees": "", "formal_members": "3",
        "probationary_members": "0", "valid_from": ""})
    client.cookies.set("lang", "en")
    page = (await client.get(f"/coverage/org/{org.uscc}")).text
    assert "Social organization" in page and "Active" in page
    assert "Non-public enterprise → Social organization" in page
    for chinese in ("非公企业", "社会组织", "正常"):
        assert chinese not in page, chinese
    registry = (await client.get("/coverage/registry")).text
    assert "Non-public enterprise" in registry and "非公企业" not in registry
    client.cookies.set("lang", "zh")
    page = (await client.get(f"/coverage/org/{org.uscc}")).text
    assert "非公企业 → 社会组织" in page and "Social organization" not in page
