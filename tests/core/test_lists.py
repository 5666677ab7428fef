"""The core's lists page in the database: /users, /inbox, /mail, /audit, /archive, /jobs/events
and /tokens each show "共 N 条", keep their filters in the pager's links, take the page size
from the URL, refuse bad page numbers and sizes in Chinese, and answer an htmx request aimed
at #results with that part only. Expected counts come from the database, never from the page."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from core.accounts import ApiToken, User
from tests.conftest import login, make_user, seed_units

HTML = {"accept": "text/html"}
HX = {**HTML, "HX-Request": "true", "HX-Target": "results"}


async def _users() -> None:
    """130 users beside the admin: every role, some in a community of 南明区, some disabled."""
    from core.orgs import OrgUnit

    base = await make_user("seed", "instructor")
    units = {code: await OrgUnit.get(code=code) for code in ("520102001", "520103", "520103001")}
    roles = ("instructor", "unit_officer", "leader", "instructor")
    rows = []
    for i in range(130):
        role = roles[i % 4]
        unit = units[("520102001", "520103", "520103001")[i % 3]] if role == "unit_officer" else None
        rows.append(User(username=f"user{i:03d}", display_name=("王" if i % 5 == 0 else "李") + str(i),
                         email=f"u{i}@{'gy' if i % 2 else 'nm'}.example.cn", role=role, unit=unit,
                         password_hash=base.password_hash, is_active=i % 7 != 0))
    await User.bulk_create(rows)


async def _inbox(admin: User) -> None:
    from core.notify_models import InboxMessage

    other = await make_user("other", "leader")
    await InboxMessage.bulk_create(
        [InboxMessage(user=admin, subject=f"消息 {i}", body="", event_key=f"k{i}") for i in range(75)]
        + [InboxMessage(user=other, subject=f"他人 {i}", body="", event_key=f"o{i}")
           for i in range(12)])
    # 30 of the admin's are read already.
    ids = await InboxMessage.filter(user=admin).order_by("id").limit(30).values_list("id", flat=True)
    from core import clock

    await InboxMessage.filter(id__in=list(ids)).update(read_at=clock.now())


async def _mail() -> None:
    from core.notify_models import MailMessage

    await MailMessage.bulk_create([MailMessage(
        to_addr=f"p{i}@{'gy' if i % 2 else 'nm'}.example.cn", subject=f"通知 {i}",
        status=("queued", "sent", "failed")[i % 3]) for i in range(140)])


async def _audit() -> None:
    from core import audit

    await audit.record_bulk("bulk.test", "thing", range(120))
    await audit.record_bulk("other.test", "thing", range(30))


async def _archive() -> None:
    from core.archive import ReportFile

    await ReportFile.bulk_create([ReportFile(
        exporter=("x-a", "x-b")[i % 2], title=f"报表 {i}", period="2014", unit="",
        filename=f"r{i}.xlsx", path=f"none/r{i}.xlsx", sha256="0" * 64, roles=["admin"])
        for i in range(130)])


async def _events(listener: str) -> None:
    from core import clock
    from core.events_models import EventDelivery, StoredEvent

    now = clock.now()
    await StoredEvent.bulk_create([StoredEvent(key=f"ranking.published:{i}", name="ranking.published",
                                               source="ranking", payload={}, occurred_at=now)
                                   for i in range(70)])
    events = await StoredEvent.all().order_by("id")
    await EventDelivery.bulk_create([EventDelivery(event=e, listener=listener, status="failed",
                                                   attempts=1, last_error="down")
                                     for e in events])


async def _tokens(admin: User) -> None:
    from core import accounts

    other = await User.get(username="other")
    for i in range(60):
        await accounts.issue_token(admin if i % 4 else other, name=f"t{i}")


@pytest.fixture
async def lists(client):
    """Every list filled past one page; returns the admin's CSRF token and a listener name."""
    from core import events

    await seed_units()
    admin = await make_user("adm", "admin", email="adm@gy.example.cn")
    await _users()
    await _inbox(admin)
    await _mail()
    await _audit()
    await _archive()
    listener = sorted(events.listeners(client.app.state.host))[0]
    await _events(listener)
    await _tokens(admin)
    csrf = await login(client, "adm")
    return {"csrf": csrf, "listener": listener, "admin": admin}


async def _expected(name: str, ctx: dict) -> int:
    """How many rows the filtered list holds, asked of the database directly."""
    from core.archive import ReportFile
    from core.audit import AuditEntry
    from core.events_models import EventDelivery
    from core.notify_models import InboxMessage, MailMessage

    return await {
        "users": lambda: User.filter(role="instructor", display_name__startswith="李").count(),
        "inbox": lambda: InboxMessage.filter(user=ctx["admin"], read_at=None).count(),
        "mail": lambda: MailMessage.filter(status="sent").count(),
        "audit": lambda: AuditEntry.filter(action__startswith="bulk.").count(),
        "archive": lambda: ReportFile.filter(exporter="x-a").count(),
        "events": lambda: EventDelivery.filter(listener=ctx["listener"]).count(),
        "tokens": lambda: ApiToken.filter(user__username="adm").count(),
    }[name]()


# path, what marks one row, the filter kept in the links
LISTS = {
    "users": ("/users", r'data-user="([^"]+)"', {"role": "instructor", "q": "李"}),
    "inbox": ("/inbox", r'data-message="(\d+)"', {"show": "unread"}),
    "mail": ("/mail", r'data-mail="(\d+)"', {"status": "sent"}),
    "audit": ("/audit", r'<tr data-id="(\d+)"', {"action": "bulk."}),
    "archive": ("/archive", r'data-report="(\d+)"', {"exporter": "x-a"}),
    "events": ("/jobs/events", r'data-delivery="(\d+)"', {"show": "waiting", "listener": None}),
    "tokens": ("/tokens", r'data-token="(\d+)"', {"user": "adm"}),
}


def _filters(name: str, ctx: dict) -> dict[str, str]:
    return {k: (v if v is not None else ctx["listener"]) for k, v in LISTS[name][2].items()}


def _rows(name: str, text: str) -> list[str]:
    return re.findall(LISTS[name][1], text)


def _total(text: str) -> int:
    return int(re.search(r'class="pager"[^>]*data-total="(\d+)"', text).group(1))


@pytest.mark.parametrize("name", list(LISTS))
async def test_list_pages_in_the_database_and_keeps_its_filters(client, lists, name):
    path = LISTS[name][0]
    filters = _filters(name, lists)
    expected = await _expected(name, lists)
    assert expected > 40  # the seed fills more than two pages of 20

    r = await client.get(path, params={**filters, "size": 20}, headers=HTML)
    assert r.status_code == 200, r.text
    assert _total(r.text) == expected and f"共 {expected} 条" in r.text
    first = _rows(name, r.text)
    assert len(first) == 20  # the page size of the URL
    # The next link keeps every filter and the size.
    nxt = unescape(re.search(r'<a rel="next"[^>]*href="([^"]+)"', r.text).group(1))
    query = {k: v[0] for k, v in parse_qs(urlsplit(nxt).query).items()}
    assert urlsplit(nxt).path == path
    assert query == {**filters, "page": "2", "size": "20"}
    second = _rows(name, (await client.get(nxt, headers=HTML)).text)
    assert len(second) == 20 and not set(first) & set(second)

    # Walking every page of 50 shows each matching row once.
    seen, page = [], 1
    while True:
        r = await client.get(path, params={**filters, "size": 50, "page": page}, headers=HTML)
        rows = _rows(name, r.text)
        seen += rows
        if 'rel="next"' not in r.text:
            break
        assert len(rows) == 50
        page += 1
    assert len(seen) == len(set(seen)) == expected and page == -(-expected // 50)

    # A page past the end shows the last page, not an empty list.
    r = await client.get(path, params={**filters, "size": 50, "page": 999}, headers=HTML)
    assert _rows(name, r.text) == rows


@pytest.mark.parametrize("name", list(LISTS))
@pytest.mark.parametrize("params, field, problem", [
    ({"page": "0"}, "page", "不能小于 1"),
    ({"page": "二"}, "page", "应为整数"),
    ({"size": "0"}, "size", "不能小于 1"),
    ({"size": "201"}, "size", "不能大于 200"),
    ({"page": "1000001"}, "page", "不能大于 1000000"),
])
async def test_bad_page_or_size_is_refused_in_chinese(client, name, params, field, problem):
    await make_user("adm", "admin")
    await login(client, "adm")
    r = await client.get(LISTS[name][0], params=params, headers=HTML)
    assert r.status_code == 400
    assert f"参数 {field} 无效：{problem}" in r.text
    r = await client.get(LISTS[name][0], params=params, headers={"accept": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["field"] == field


@pytest.mark.parametrize("name", list(LISTS))
async def test_htmx_request_gets_the_results_only(client, lists, name):
    path = LISTS[name][0]
    params = {**_filters(name, lists), "size": 20, "page": 2}
    whole = await client.get(path, params=params, headers=HTML)
    part = await client.get(path, params=params, headers=HX)
    assert part.status_code == 200
    assert "<html" in whole.text and "<html" not in part.text and 'id="nav"' not in part.text
    assert part.text.lstrip().startswith('<div id="results">')
    assert _rows(name, part.text) == _rows(name, whole.text) and len(_rows(name, part.text)) == 20
    assert "HX-Request" in part.headers["vary"]
    # Another target (or a boosted link) is a whole page.
    other = await client.get(path, params=params, headers={**HX, "HX-Target": "nav"})
    assert "<html" in other.text


async def test_users_search_matches_name_display_name_and_mail(client, lists):
    async def names(**params) -> list[str]:
        r = await client.get("/users", params={"size": 200, **params}, headers=HTML)
        assert r.status_code == 200, r.text
        return _rows("users", r.text)

    assert await names(q="user01") == [f"user{i:03d}" for i in range(10, 20)]
    by_display = await User.filter(display_name__contains="王").order_by("username").values_list(
        "username", flat=True)
    assert await names(q="王") == list(by_display) and by_display
    by_mail = await User.filter(email__contains="@nm.").order_by("username").values_list(
        "username", flat=True)
    assert await names(q="@NM.") == list(by_mail)  # case does not matter
    # A unit filter takes the unit and what lies below it.
    in_520103 = await User.filter(unit__path__startswith="/520100/520103/").order_by(
        "username").values_list("username", flat=True)
    assert await names(unit="520103") == list(in_520103) and len(in_520103) > 10
    assert await names(unit="520103001") == list(await User.filter(
        unit__code="520103001").order_by("username").values_list("username", flat=True))
    disabled = await User.filter(is_active=False).order_by("username").values_list(
        "username", flat=True)
    assert await names(status="disabled") == list(disabled) and disabled
    # The unit picker's words too: a name one unit carries, or "名称（代码）".
    from core.orgs import OrgUnit

    name = (await OrgUnit.get(code="520103")).name
    assert await names(unit=name) == list(in_520103)
    assert await names(unit=f"{name}（520103）") == list(in_520103)
    r = await client.get("/users", params={"unit": "999"}, headers=HTML)
    assert r.status_code == 422 and "999" in r.text and "所属单位" in r.text
    assert 'data-field="unit"' in r.text and _rows("users", r.text) == []
    assert 'value="999"' in r.text  # what was typed stays in the field
    assert 'role="alert"' not in r.text  # said once, beside the field
    part = await client.get("/users", params={"unit": "999"}, headers=HX)
    assert part.status_code == 422 and 'role="alert"' in part.text  # the part htmx replaces
    r = await client.get("/users", params={"role": "king"}, headers=HTML)
    assert r.status_code == 400 and "参数 role 无效" in r.text


async def test_users_state_reads_as_a_state(client, lists):
    r = await client.get("/users", params={"q": "user000"}, headers=HTML)  # user000 is disabled
    row = re.search(r'<tr data-user="user000">.*?</tr>', r.text, re.S).group(0)
    assert 'data-state="disabled"' in row and "已停用" in row and "badge" not in row
    r = await client.get("/users", params={"q": "user001"}, headers=HTML)
    row = re.search(r'<tr data-user="user001">.*?</tr>', r.text, re.S).group(0)
    assert 'data-state="active"' in row and ">正常<" in row


async def test_users_writes_do_not_render_the_whole_list(client, lists):
    csrf = lists["csrf"]
    r = await client.post("/users", data={"_csrf": csrf, "username": "newbie", "role": "leader",
                                          "display_name": "新人", "email": "",
                                          "password": "Pass-word-2014"})
    assert r.status_code in (302, 303)
    target = r.headers["location"]
    assert parse_qs(urlsplit(target).query)["q"] == ["newbie"]
    page = await client.get(target, headers=HTML)
    assert _rows("users", page.text) == ["newbie"] and "用户 newbie 已创建" in page.text
    # A refused create answers one page of the list, not every user.
    r = await client.post("/users", data={"_csrf": csrf, "username": "bad name", "role": "leader",
                                          "password": "Pass-word-2014"})
    assert r.status_code == 422 and len(_rows("users", r.text)) == 50
    # Disabling from page 2 of a filtered list returns to that page.
    r = await client.get("/users", params={"role": "leader", "size": 20, "page": 2}, headers=HTML)
    victim = _rows("users", r.text)[0]
    back = unescape(re.search(r'name="back" value="([^"]*)"', r.text).group(1))
    uid = (await User.get(username=victim)).id
    # through the confirmation page, which keeps the list's query
    ask = await client.get(f"/users/{uid}/disable", params={"back": back}, headers=HTML)
    assert unescape(re.search(r'name="back" value="([^"]*)"', ask.text).group(1)) == back
    r = await client.post(f"/users/{uid}/disable", data={"_csrf": csrf, "back": back,
                                                         "confirm": "1"})
    assert r.status_code in (302, 303)
    query = parse_qs(urlsplit(r.headers["location"]).query)
    assert query["role"] == ["leader"] and query["page"] == ["2"] and query["size"] == ["20"]
    assert not (await User.get(id=uid)).is_active
    # A `back` that tries to leave the list is reduced to the list's own keys.
    r = await client.post(f"/users/{uid}/enable",
                          data={"_csrf": csrf, "back": "next=//evil.example&page=3"})
    assert r.headers["location"].startswith("/users?page=3&msg=")


async def test_mark_all_read_marks_only_the_callers_messages(client, lists):
    from core.notify_models import InboxMessage

    admin = lists["admin"]
    others_unread = await InboxMessage.filter(read_at=None).exclude(user=admin).count()
    mine = await InboxMessage.filter(user=admin, read_at=None).count()
    r = await client.get("/inbox", headers=HTML)
    assert f'data-unread="{mine}"' in r.text and f"未读 {mine} 条" in r.text
    assert 'id="inbox-read-all"' in r.text
    r = await client.post("/inbox/read-all", data={"_csrf": "forged"})
    assert r.status_code == 403
    assert await InboxMessage.filter(user=admin, read_at=None).count() == mine
    r = await client.post("/inbox/read-all", data={"_csrf": lists["csrf"], "back": "show=unread"})
    assert r.status_code in (302, 303)
    assert r.headers["location"].startswith("/inbox?show=unread&msg=")
    page = await client.get(r.headers["location"], headers=HTML)
    assert f"已将 {mine} 条消息标为已读" in page.text and 'data-unread="0"' in page.text
    assert 'id="inbox-read-all"' not in page.text
    assert await InboxMessage.filter(user=admin, read_at=None).count() == 0
    assert await InboxMessage.filter(read_at=None).exclude(user=admin).count() == others_unread > 0


async def test_archive_for_a_unit_officer_is_scoped_in_the_database(client):
    """A district officer sees city-wide reports and those of units in the district, paged; not
    other districts' nor reports for other roles. (The scope is a subquery on the unit tree,
    which has to hold on PostgreSQL too.)"""
    from core.archive import ReportFile

    await seed_units()
    await make_user("uo", "unit_officer", unit_code="520102")
    rows = []
    for i in range(90):
        unit = ("", "520102", "520102001", "520103", "520103001")[i % 5]
        roles = ["admin", "unit_officer"] if i % 9 else ["admin"]
        rows.append(ReportFile(exporter="x-a", title=f"报表 {i}", period="2014", unit=unit,
                               filename=f"r{i}.xlsx", path=f"none/r{i}.xlsx", sha256="0" * 64,
                               roles=roles))
    await ReportFile.bulk_create(rows)
    await login(client, "uo")
    want = [r.id for r in await ReportFile.all().order_by("-id")
            if "unit_officer" in r.roles and r.unit in ("", "520102", "520102001")]
    seen, page = [], 1
    while True:
        r = await client.get("/archive", params={"size": 20, "page": page}, headers=HTML)
        assert r.status_code == 200, r.text[-2000:]
        assert _total(r.text) == len(want)
        seen += [int(x) for x in _rows("archive", r.text)]
        if 'rel="next"' not in r.text:
            break
        page += 1
    assert seen == want and page > 1
    r = await client.get("/archive", params={"unit": "520102001"}, headers=HTML)
    assert _total(r.text) == len([1 for i in range(90) if i % 5 == 2 and i % 9])
    # the filter is the unit picker: a name names the unit; outside the officer's reach or
    # naming nothing, the page says so beside the field and keeps what was typed
    from core.orgs import OrgUnit

    named = (await OrgUnit.get(code="520102001")).name
    r = await client.get("/archive", params={"unit": named}, headers=HTML)
    assert _total(r.text) == len([1 for i in range(90) if i % 5 == 2 and i % 9])
    for bad in ("没有这个单位",):
        r = await client.get("/archive", params={"unit": bad}, headers=HTML)
        assert r.status_code == 422 and 'id="err-unit"' in r.text and f'value="{bad}"' in r.text
    r = await client.get("/api/archive", headers={"accept": "application/json"})
    assert [x["id"] for x in r.json()] == want
