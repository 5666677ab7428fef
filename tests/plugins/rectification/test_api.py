"""HTTP: JSON endpoints for every transition, error shapes, evidence limits and scoping, pages."""

from __future__ import annotations

import re

import pytest

from plugins.rectification.models import Evidence, Task
from tests.conftest import login
from tests.plugins.rectification.conftest import PDF, TASK


@pytest.fixture
def settings_extra():
    return "[rectification]\nmax_evidence_kb = 4\nevidence_types = [\"pdf\", \"png\", \"txt\"]\n"


@pytest.fixture
async def web(client):
    """Logged-in clients (cookie + CSRF) for admin, the community officer and the other unit."""
    from core.orgs import ensure_period
    from tests.conftest import make_user, seed_units

    await seed_units()
    await ensure_period("2026")
    await make_user("admin1", "admin")
    await make_user("hgy_officer", "unit_officer", unit_code="520102001")
    await make_user("yy_officer", "unit_officer", unit_code="520103")
    await make_user("leader1", "leader")
    tokens = {}
    for name in ("admin1", "hgy_officer", "yy_officer", "leader1"):
        r = await client.post("/api/login", json={"username": name, "password": "password1"})
        tokens[name] = {"Authorization": f"Bearer {r.json()['token']}"}
    return tokens


async def post(client, who, path, body):
    return await client.post(f"/api/rectification{path}", json=body, headers=who)


async def test_every_transition_over_the_api(client, web, settings):
    admin, officer = web["admin1"], web["hgy_officer"]
    r = await post(client, admin, "/tasks", TASK)
    assert r.status_code == 201, r.text
    t = r.json()
    tid = t["id"]
    for action, body in (("assess", {}), ("dispatch", {"deadline": "2026-12-31",
                                                        "reason": "年底前"})):
        r = await post(client, admin, f"/tasks/{tid}/{action}", {"version": t["version"], **body})
        assert r.status_code == 200, r.text
        t = r.json()
    assert t["status"] == "dispatched" and t["deadline"] == "2026-12-31"
    assert t["allowed"] == ["set_deadline"]
    # upload a draft, then respond naming it
    r = await client.post(f"/api/rectification/tasks/{tid}/evidence", headers=officer,
                          files=[("files", ("整改报告.pdf", PDF, "application/pdf"))])
    assert r.status_code == 201, r.text
    eid = r.json()[0]["id"]
    r = await post(client, officer, f"/tasks/{tid}/extensions",
                   {"version": t["version"], "reason": "需协调", "requested_deadline": "2027-01-05"})
    assert r.status_code == 200, r.text
    t = r.json()
    assert t["allowed"] == ["respond"]
    r = await post(client, admin, f"/tasks/{tid}/extensions/decide",
                   {"version": t["version"], "approve": False, "reason": "不同意"})
    t = r.json()
    r = await post(client, officer, f"/tasks/{tid}/respond",
                   {"version": t["version"], "note": "已整改", "evidence": [eid]})
    assert r.status_code == 200, r.text
    t = r.json()
    assert t["status"] == "responded" and t["evidence"][0]["attached"]
    r = await post(client, admin, f"/tasks/{tid}/verify", {"version": t["version"], "passed": True})
    t = r.json()
    r = await post(client, admin, f"/tasks/{tid}/evaluate", {"version": t["version"],
                                                            "satisfaction": 95})
    assert r.status_code == 200 and r.json()["status"] == "evaluated"
    assert [e["action"] for e in r.json()["events"]] == [
        "register", "assess", "dispatch", "request_extension", "decide_extension", "respond",
        "verify", "evaluate"]


async def test_refusals_over_the_api(client, web):
    admin, officer, other = web["admin1"], web["hgy_officer"], web["yy_officer"]
    t = (await post(client, admin, "/tasks", TASK)).json()
    tid = t["id"]
    # wrong state → 409 naming the allowed next steps
    r = await post(client, admin, f"/tasks/{tid}/verify", {"version": 1, "passed": True})
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["code"] == "transition_not_allowed" and err["details"]["allowed"] == ["assess",
                                                                                     "reject"]
    assert "assess (admin)" in err["message"]
    # wrong role → 403 naming the role
    r = await post(client, officer, f"/tasks/{tid}/assess", {"version": 1})
    assert r.status_code == 403 and "admin" in r.json()["error"]["message"]
    r = await post(client, web["leader1"], f"/tasks/{tid}/assess", {"version": 1})
    assert r.status_code == 403
    # stale version
    await post(client, admin, f"/tasks/{tid}/assess", {"version": 1})
    r = await post(client, admin, f"/tasks/{tid}/reject", {"version": 1, "reason": "x"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "stale_version"
    assert r.json()["error"]["details"]["last_change"]["actor"] == "admin1"
    await post(client, admin, f"/tasks/{tid}/dispatch", {"version": 2})
    # another unit's officer: cannot see nor act
    # …answered like a missing task (404), naming no unit, as accountability does
    r = await client.get(f"/api/rectification/tasks/{tid}", headers=other)
    missing = await client.get("/api/rectification/tasks/999999", headers=other)
    assert r.status_code == missing.status_code == 404
    assert r.json()["error"]["code"] == missing.json()["error"]["code"] == "task_not_found"
    assert r.json()["error"]["message"].replace(str(tid), "N") == \
        missing.json()["error"]["message"].replace("999999", "N")
    r = await post(client, other, f"/tasks/{tid}/respond", {"version": 3, "note": "x"})
    assert r.status_code == 404
    r = await client.get("/api/rectification/tasks", headers=other)
    assert r.json() == []
    r = await client.get("/api/rectification/tasks", headers=officer)
    assert [x["id"] for x in r.json()] == [tid]
    # deadline before registration
    t2 = (await post(client, admin, "/tasks", TASK)).json()
    await post(client, admin, f"/tasks/{t2['id']}/assess", {"version": 1})
    r = await post(client, admin, f"/tasks/{t2['id']}/dispatch",
                   {"version": 2, "deadline": "2001-01-01", "reason": "x"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "deadline"
    assert (await Task.get(id=t2["id"])).status == "assessed"


async def test_evidence_type_size_and_scope(client, web, settings):
    admin, officer, other = web["admin1"], web["hgy_officer"], web["yy_officer"]
    t = (await post(client, admin, "/tasks", TASK)).json()
    tid = t["id"]
    await post(client, admin, f"/tasks/{tid}/assess", {"version": 1})
    await post(client, admin, f"/tasks/{tid}/dispatch", {"version": 2})
    url = f"/api/rectification/tasks/{tid}/evidence"
    bad = [("run.exe", b"MZ\x90\x00", "evidence_type"),
           ("fake.pdf", b"<html><script>", "evidence_type"),
           ("big.pdf", b"%PDF" + b"0" * 5000, "evidence_too_large"),
           ("empty.txt", b"", "evidence_empty")]
    for name, data, code in bad:
        r = await client.post(url, headers=officer, files=[("files", (name, data))])
        assert r.status_code == 422, (name, r.text)
        assert r.json()["error"]["code"] == code and name in r.json()["error"]["message"]
    # one bad file refuses the whole upload
    r = await client.post(url, headers=officer, files=[("files", ("ok.pdf", PDF)),
                                                        ("files", ("x.exe", b"MZ"))])
    assert r.status_code == 422
    assert await Evidence.all().count() == 0
    folder = settings.path(settings.storage.evidence_dir) / "rectification"
    assert not folder.exists() or list(folder.iterdir()) == []
    r = await client.post(url, headers=other, files=[("files", ("ok.pdf", PDF))])
    assert r.status_code == 404  # another unit's task: answered as missing
    r = await client.post(url, headers=officer, files=[("files", ("说明.txt", "中文说明".encode()))])
    assert r.status_code == 201
    ev = await Evidence.get(id=r.json()[0]["id"])
    stored = folder / ev.stored_name
    assert stored.read_bytes() == "中文说明".encode() and "说明" not in ev.stored_name
    import hashlib

    assert ev.sha256 == hashlib.sha256("中文说明".encode()).hexdigest()
    # served to those who may see the task, refused to the other unit
    r = await client.get(f"/rectification/evidence/{ev.id}", headers=officer)
    assert r.status_code == 200 and r.content == "中文说明".encode()
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "attachment" in r.headers["content-disposition"]
    r = await client.get(f"/rectification/evidence/{ev.id}", headers=web["leader1"])
    assert r.status_code == 200
    r = await client.get(f"/rectification/evidence/{ev.id}", headers=other)
    assert r.status_code == 404


async def test_pages_render_and_forms_need_csrf(client, web):
    admin = web["admin1"]
    t = (await post(client, admin, "/tasks", TASK)).json()
    client.cookies.clear()
    csrf = await login(client, "admin1")
    html = {"accept": "text/html"}
    for path in ("/rectification/queue", "/rectification/queue?step=all", "/rectification/new",
                 f"/rectification/tasks/{t['id']}", "/rectification/reports",
                 "/imports/rectification-tasks", "/"):
        r = await client.get(path, headers=html)
        assert r.status_code == 200, (path, r.text[:300])
    r = await client.post(f"/rectification/tasks/{t['id']}/act/assess", data={"version": "1"})
    assert r.status_code == 403  # no CSRF token
    r = await client.post(f"/rectification/tasks/{t['id']}/act/assess",
                          data={"version": "1", "_csrf": csrf})
    assert r.status_code in (302, 303)
    assert (await Task.get(id=t["id"])).status == "assessed"
    # a refused form comes back on the task page with the message and status
    r = await client.post(f"/rectification/tasks/{t['id']}/act/evaluate",
                          data={"version": "2", "_csrf": csrf, "satisfaction": "90"},
                          headers=html)
    assert r.status_code == 409 and "任务当前状态下不能进行此操作" in r.text
    r = await client.post("/rectification/new", data={**TASK, "_csrf": csrf, "unit": "nope"},
                          headers=html)
    assert r.status_code == 422 and "unit" in r.text
    client.cookies.clear()
    await login(client, "hgy_officer")
    r = await client.get("/rectification/mine", headers=html)
    assert r.status_code == 200 and "rect-tasks" in r.text
    r = await client.get("/", headers=html)
    assert r.status_code == 200 and "rect-unit-overdue" in r.text


async def test_dashboard_panel_counts_overdue_by_district(client, web):
    from plugins.rectification.scan import overdue_scan
    from tests.plugins.rectification.conftest import at

    admin = web["admin1"]
    t = (await post(client, admin, "/tasks", TASK)).json()
    await post(client, admin, f"/tasks/{t['id']}/assess", {"version": 1})
    await post(client, admin, f"/tasks/{t['id']}/dispatch",
               {"version": 2, "deadline": at("2026-12-01").date().isoformat(), "reason": "x"})
    import datetime as dt

    await overdue_scan(today=dt.date(2026, 12, 3))
    client.cookies.clear()
    await login(client, "admin1")
    r = await client.get("/", headers={"accept": "text/html"})
    assert "南明区: 1" in r.text and "云岩区: 0" in r.text


async def test_officer_forms_answer_on_the_task_page_in_chinese(client, web):
    """Responding without a file or with a .exe, and an extension with a bad date: the task page
    again (HTML, not JSON), the note kept, each message in Chinese beside its field."""
    admin = web["admin1"]
    t = (await post(client, admin, "/tasks", TASK)).json()
    await post(client, admin, f"/tasks/{t['id']}/assess", {"version": 1})
    await post(client, admin, f"/tasks/{t['id']}/dispatch", {"version": 2})
    client.cookies.clear()
    csrf = await login(client, "hgy_officer")
    html = {"accept": "text/html"}
    act = f"/rectification/tasks/{t['id']}/act/"
    for files, message in (
            ({"files": ("", b"", "application/octet-stream")}, "请附上佐证材料"),
            ({"files": ("x.exe", b"MZ\x90\x00", "application/octet-stream")},
             "文件“x.exe”的类型不被接受")):
        r = await client.post(act + "respond", headers=html, files=files,
                              data={"_csrf": csrf, "version": "3", "note": "已整改完毕"})
        assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
        assert re.search(r'<small class="error field-error" id="err-evidence"[^>]*>' + message,
                         r.text), r.text[-2000:]
        assert ">已整改完毕</textarea>" in r.text and "attach" not in r.text
    r = await client.post(act + "request_extension", headers=html,
                          data={"_csrf": csrf, "version": "3", "requested_deadline": "2015-13-45",
                                "reason": "施工期长"})
    assert r.status_code == 422 and 'id="err-requested_deadline"' in r.text
    assert "日期格式应为" in r.text and 'value="施工期长"' in r.text
    assert (await Task.get(id=t["id"])).status == "dispatched"
    # A small file reads in bytes, not "0.0 KB".
    r = await client.post(act + "respond", headers=html, data={"_csrf": csrf, "version": "3",
                                                               "note": "已整改完毕"},
                          files={"files": ("说明.txt", b"x" * 33, "text/plain")})
    assert r.status_code in (302, 303), r.text
    page = await client.get(f"/rectification/tasks/{t['id']}", headers=html)
    assert "33 字节" in page.text and "0.0 KB" not in page.text


async def test_officer_sections_hold_only_their_status(client, web):
    """A closed task waits for the evaluation, not in 已反馈待核查."""
    admin = web["admin1"]
    ids = []
    for _ in range(2):
        t = (await post(client, admin, "/tasks", TASK)).json()
        await post(client, admin, f"/tasks/{t['id']}/assess", {"version": 1})
        await post(client, admin, f"/tasks/{t['id']}/dispatch", {"version": 2})
        officer = web["hgy_officer"]
        r = await client.post(f"/api/rectification/tasks/{t['id']}/evidence", headers=officer,
                              files=[("files", ("ok.pdf", PDF, "application/pdf"))])
        r = await post(client, officer, f"/tasks/{t['id']}/respond",
                       {"version": 3, "note": "ok", "evidence": [r.json()[0]["id"]]})
        assert r.status_code == 200, r.text
        ids.append(t["id"])
    r = await post(client, admin, f"/tasks/{ids[1]}/verify", {"version": 4, "passed": True})
    assert r.status_code == 200, r.text
    assert [(await Task.get(id=i)).status for i in ids] == ["responded", "closed"]
    client.cookies.clear()
    await login(client, "hgy_officer")
    html = {"accept": "text/html"}
    tabs = (await client.get("/rectification/mine", headers=html)).text
    assert "已反馈待核查 (1)" in tabs and "已结案待评价 (1)" in tabs
    waiting = (await client.get("/rectification/mine?group=waiting", headers=html)).text
    closed = (await client.get("/rectification/mine?group=closed", headers=html)).text
    assert f"/rectification/tasks/{ids[0]}" in waiting and f"/rectification/tasks/{ids[1]}" not in waiting
    assert f"/rectification/tasks/{ids[1]}" in closed and f"/rectification/tasks/{ids[0]}" not in closed


@pytest.mark.parametrize(("path", "body", "field", "words"), [
    ("/tasks", {**TASK, "title": "问" * 201}, "title", "最多 200 个字符"),
    ("/tasks", {**TASK, "severity": 3}, "severity", "应为"),
    ("/tasks", {**TASK, "colour": "red"}, "colour", "不认识的字段 colour"),
    ("/tasks/{tid}/reject", {"reason": "重复"}, "version", "缺少必填字段 version"),
    ("/tasks/{tid}/reject", {"version": "一", "reason": "重复"}, "version", "应为整数"),
    ("/tasks/{tid}/dispatch", {"version": 1, "deadline": "明天"}, "deadline", ""),
    ("/tasks/{tid}/evaluate", {"version": 1, "satisfaction": 101}, "satisfaction", "不能大于 100"),
])
async def test_a_malformed_body_is_refused_naming_the_field(client, web, path, body, field,
                                                            words):
    admin = web["admin1"]
    t = (await post(client, admin, "/tasks", TASK)).json()
    before = await Task.all().count()
    r = await post(client, admin, path.format(tid=t["id"]), body)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["field"] == field and words in error["message"], error
    assert await Task.all().count() == before
    assert (await Task.get(id=t["id"])).status == "registered"
