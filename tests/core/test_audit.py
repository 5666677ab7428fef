"""The audit trail: hash chain round trips, verify (service and CLI), concurrency, bulk writes,
the admin page with filters and paging, and the Excel export."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
import textwrap
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from tortoise import Tortoise
from tortoise.transactions import in_transaction

from core import audit
from core import db as core_db
from core.audit import AuditEntry
from tests.conftest import login, make_user, seed_units

ROOT = Path(__file__).resolve().parents[2]
SHANGHAI = ZoneInfo("Asia/Shanghai")


# -- the chain on both databases --------------------------------------------------------------

# Values that PostgreSQL's jsonb would give back in another form (1e16 as an integer, -0.0
# as 0.0, no NaN, no NUL, no integers beyond 64 bits) next to ordinary ones.
AWKWARD = {
    "huge_float": 1e16, "neg_zero": -0.0, "nan": float("nan"), "big_int": 2**70,
    "nul": "a\x00b", "tiny": 1e-7, "rate": 83.87, "text": "南明区 =SUM(A1)",
    "when": dt.datetime(2014, 5, 1, 8, 30, tzinfo=SHANGHAI), "day": dt.date(2014, 5, 1),
    "nested": {"b": [1, 2.5, None, True], "a": {"z": 1, "y": "二"}},
}


async def test_entries_round_trip_and_verify_intact(db):
    first = await audit.record("unit.update", "org_unit", "520102", before={"name": "南明"},
                               after=AWKWARD, reason="规范名称")
    second = await audit.record("unit.update", "org_unit", "520103", after={"n": 1})
    assert second.prev_hash == first.hash and first.prev_hash == audit.GENESIS
    checked, broken, why = await audit.verify()
    assert (checked, broken, why) == (2, None, "")
    row = await AuditEntry.get(id=first.id)
    assert row.after == audit.canonical(AWKWARD)
    assert row.after["huge_float"] == 10**16 and row.after["nul"] == "a\ufffdb"
    assert row.reason == "规范名称"


async def test_timestamps_are_stored_as_the_same_instant(db):
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    entry = await audit.record("x.test", "thing", 1)
    after = dt.datetime.now(dt.UTC)
    row = await AuditEntry.get(id=entry.id)
    assert row.at.tzinfo is not None and row.at.microsecond == 0
    assert before <= row.at <= after
    # The stored value is the same instant whatever zone the driver hands back.
    assert row.at.astimezone(dt.UTC) == entry.at.astimezone(dt.UTC)
    # The day filter finds it on the local (Asia/Shanghai) day, and not on the days around it.
    today = dt.datetime.now(SHANGHAI).date()
    assert await audit.search(date_from=today, date_to=today).count() == 1
    assert await audit.search(date_to=today - dt.timedelta(days=1)).count() == 0
    assert await audit.search(date_from=today + dt.timedelta(days=1)).count() == 0


async def test_day_filter_follows_shanghai_midnight_not_utc(db):
    """16:30 UTC on 1 March is 00:30 on 2 March in Guiyang: it belongs to 2 March."""
    entry = await audit.record("x.test", "thing", 1)
    late = dt.datetime(2026, 3, 1, 16, 30, tzinfo=dt.UTC)
    # QuerySet.update() stores the offset it is given (save() converts to the configured
    # zone); give it Shanghai time as save() would, so SQLite holds the same text form.
    await AuditEntry.filter(id=entry.id).update(at=late.astimezone(SHANGHAI))
    assert await audit.search(date_from=dt.date(2026, 3, 2), date_to=dt.date(2026, 3, 2)).count() == 1
    assert await audit.search(date_from=dt.date(2026, 3, 1), date_to=dt.date(2026, 3, 1)).count() == 0


async def test_transaction_rollback_leaves_no_entry(db):
    await audit.record("a.one", "thing", 1)
    with pytest.raises(RuntimeError):
        async with in_transaction():
            await audit.record("a.two", "thing", 2)
            raise RuntimeError("the change failed")
    assert await AuditEntry.all().values_list("action", flat=True) == ["a.one"]
    await audit.record("a.three", "thing", 3)
    assert (await audit.verify())[1] is None


async def test_overlong_fields_are_refused_on_both_databases(db):
    with pytest.raises(ValueError, match="object_id: at most 64"):
        await audit.record("a.b", "thing", "x" * 65)
    with pytest.raises(ValueError, match="action: at most 64"):
        await audit.record("a" * 65, "thing", 1)
    assert await AuditEntry.all().count() == 0


async def test_concurrent_records_in_one_process_keep_one_chain(db):
    await asyncio.gather(*(audit.record("c.write", "thing", i, after={"i": i})
                           for i in range(60)))
    checked, broken, _ = await audit.verify()
    assert broken is None and checked == 60
    assert len(set(await AuditEntry.all().values_list("prev_hash", flat=True))) == 60


async def test_open_transaction_with_two_records_does_not_deadlock(db):
    """A caller's transaction holds the chain between its records; others must wait, not hang."""
    started = asyncio.Event()

    async def long_change():
        async with in_transaction():
            await audit.record("t.first", "thing", 1)
            started.set()
            await asyncio.sleep(0.2)
            await audit.record("t.second", "thing", 1)

    async def other():
        await started.wait()
        await audit.record("t.other", "thing", 2)

    await asyncio.wait_for(asyncio.gather(long_change(), other()), timeout=30)
    actions = await AuditEntry.all().order_by("id").values_list("action", flat=True)
    assert actions == ["t.first", "t.second", "t.other"]
    assert (await audit.verify())[1] is None


WRITER = textwrap.dedent("""
    import asyncio, sys
    from core import audit, db
    from core.boot import boot

    async def main(path, tag):
        settings, host = boot(path)
        await db.init_db(settings, host)
        try:
            await asyncio.gather(*(audit.record("p.write", "proc", f"{tag}-{i}") for i in range(25)))
        finally:
            await db.close_db()

    asyncio.run(main(sys.argv[1], sys.argv[2]))
""")


def test_concurrent_processes_keep_one_chain(settings):
    """Three processes append at once: the database lock keeps a single valid chain."""
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(settings.source), str(n)],
                              cwd=ROOT, stderr=subprocess.PIPE, text=True) for n in range(3)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors

    async def check():
        await core_db.init_db(settings, booted_host())
        try:
            return await audit.verify(), await AuditEntry.filter(action="p.write").count()
        finally:
            await core_db.close_db()

    (checked, broken, why), count = asyncio.run(check())
    assert broken is None, why
    assert checked == count == 75


def booted_host():
    from core.plugins import get_host

    return get_host()


# -- set-based writes -------------------------------------------------------------------------

async def test_update_audited_records_each_changed_row(db):
    from core.orgs import OrgUnit

    await seed_units()
    with audit.acting_as("job:core.test"):
        n = await audit.update_audited(OrgUnit.filter(level="community"), "unit.deactivate",
                                       reason="合并社区", active=False)
    assert n == 2
    assert await OrgUnit.filter(level="community", active=True).count() == 0
    assert await OrgUnit.filter(level="district", active=True).count() == 2
    entries = await AuditEntry.filter(action="unit.deactivate").order_by("object_id")
    ids = await OrgUnit.filter(level="community").order_by("id").values_list("id", flat=True)
    assert sorted(int(e.object_id) for e in entries) == sorted(ids)
    for e in entries:
        assert e.before == {"active": True} and e.after == {"active": False}
        assert e.actor == "job:core.test" and e.reason == "合并社区"
        assert e.object_type == "core_org_unit"
    assert await audit.update_audited(OrgUnit.filter(code="none"), "unit.x", active=False) == 0
    assert (await audit.verify())[1] is None


async def test_record_bulk_writes_one_linked_entry_per_object(db):
    await audit.record("before.bulk", "thing", 0)
    ids = list(range(1, 1201))  # more than one insert batch
    assert await audit.record_bulk("task.overdue", "task", ids, after={"status": "overdue"}) == 1200
    assert await audit.record_bulk("task.none", "task", []) == 0
    rows = await AuditEntry.filter(action="task.overdue").order_by("id").values_list(
        "object_id", flat=True)
    assert rows == [str(i) for i in ids]
    checked, broken, _ = await audit.verify(batch=500)
    assert broken is None and checked == 1201


# -- kaohe audit verify -----------------------------------------------------------------------

def _cli(settings, *args):
    from core.cli import cli
    from core.commands import register_core_commands

    register_core_commands(cli)
    return CliRunner().invoke(cli, ["--settings", str(settings.source), *args])


def _with_db(settings, body):
    async def run():
        await core_db.init_db(settings, booted_host())
        try:
            return await body()
        finally:
            await core_db.close_db()

    return asyncio.run(run())


async def _five_entries():
    for i in range(5):
        await audit.record("v.write", "thing", i, after={"i": i})
    return await AuditEntry.all().order_by("id").values_list("id", flat=True)


async def _sql(sql: str):
    await Tortoise.get_connection("default").execute_query(sql)


def test_cli_verify_intact_exits_zero(settings):
    _with_db(settings, _five_entries)
    r = _cli(settings, "audit", "verify")
    assert r.exit_code == 0, r.output
    assert "intact: 5 entries" in r.output


@pytest.mark.parametrize("edit", [
    "UPDATE core_audit SET reason = 'quietly changed' WHERE id = {id}",
    "UPDATE core_audit SET actor = 'someone_else' WHERE id = {id}",
    "UPDATE core_audit SET at = at + INTERVAL '1 second' WHERE id = {id}",
])
def test_cli_verify_reports_an_edited_row(settings, edit):
    ids = _with_db(settings, _five_entries)
    target = ids[2]
    if "INTERVAL" in edit and core_db_dialect(settings) == "sqlite":
        edit = "UPDATE core_audit SET at = '2014-05-01 08:00:01+08:00' WHERE id = {id}"
    _with_db(settings, lambda: _sql(edit.format(id=target)))
    r = _cli(settings, "audit", "verify")
    assert r.exit_code == 1, r.output
    assert f"broken at entry {target} " in r.output
    assert "altered" in r.output and "2 entries before it are intact" in r.output


def test_cli_verify_reports_a_removed_row(settings):
    ids = _with_db(settings, _five_entries)
    _with_db(settings, lambda: _sql(f"DELETE FROM core_audit WHERE id = {ids[1]}"))
    r = _cli(settings, "audit", "verify")
    assert r.exit_code == 1, r.output
    # The entry after the gap no longer links to its predecessor.
    assert f"broken at entry {ids[2]} " in r.output and "removed" in r.output


def test_cli_verify_reports_a_removed_first_row(settings):
    ids = _with_db(settings, _five_entries)
    _with_db(settings, lambda: _sql(f"DELETE FROM core_audit WHERE id = {ids[0]}"))
    r = _cli(settings, "audit", "verify")
    assert r.exit_code == 1 and f"broken at entry {ids[1]} " in r.output, r.output


def core_db_dialect(settings) -> str:
    return "postgres" if settings.database.url.startswith("postgres") else "sqlite"


# -- the admin page, its JSON twin and the Excel export --------------------------------------

async def _trail():
    """A varied trail: two actors, three object types, a reason, a formula-like value."""
    with audit.acting_as("alice"):
        for i in range(3):
            await audit.record("user.create", "user", f"u{i}", after={"role": "leader"})
        await audit.record("unit.update", "org_unit", "520102", before={"name": "南明"},
                           after={"name": "南明区"}, reason="=HYPERLINK(\"x\")")
    with audit.acting_as("job:rectification.scan"):
        await audit.record_bulk("task.overdue", "task", [7, 8], before={"status": "open"},
                                after={"status": "overdue"})


async def test_audit_page_filters_and_shows_changes(client):
    await make_user("adm", "admin")
    await login(client, "adm")
    await _trail()
    r = await client.get("/audit", params={"actor": "ali"})
    assert r.status_code == 200
    ids = _row_ids(r.text)
    expected = await AuditEntry.filter(actor="alice").order_by("-id").values_list("id", flat=True)
    assert ids == list(expected) and len(ids) == 4
    r = await client.get("/audit", params={"action": "task.", "object_id": "8"})
    assert _row_ids(r.text) == list(await AuditEntry.filter(action="task.overdue", object_id="8")
                                    .values_list("id", flat=True))
    assert "overdue" in r.text and "open" in r.text  # the change is shown old → new
    r = await client.get("/audit", params={"object_type": "org_unit"})
    assert "南明区" in r.text and "HYPERLINK" in r.text
    today = dt.datetime.now(SHANGHAI).date()
    r = await client.get("/audit", params={"date_from": str(today), "date_to": str(today),
                                           "action": "user."})
    assert len(_row_ids(r.text)) == 3
    r = await client.get("/audit", params={"date_to": str(today - dt.timedelta(days=1))})
    assert _row_ids(r.text) == []


async def test_audit_page_pages_through_results(client):
    await make_user("adm", "admin")
    await login(client, "adm")
    await audit.record_bulk("bulk.test", "thing", range(120))
    want = list(await AuditEntry.filter(action="bulk.test").order_by("-id").values_list(
        "id", flat=True))
    seen = []
    for page in (1, 2, 3):
        r = await client.get("/audit", params={"action": "bulk.", "page": page})
        seen += _row_ids(r.text)
        assert ('rel="next"' in r.text) == (page < 3)
        assert ('rel="prev"' in r.text) == (page > 1)
        assert "共 120 条" in r.text
    assert seen == want
    r = await client.get("/api/audit", params={"action": "bulk.", "page": 2, "per_page": 50})
    body = r.json()
    assert body["total"] == 120 and [e["id"] for e in body["entries"]] == want[50:100]


@pytest.mark.parametrize("params, field", [
    ({"date_from": "2026-13-01"}, "date_from"),
    ({"date_to": "yesterday"}, "date_to"),
    ({"date_from": "2026-05-02", "date_to": "2026-05-01"}, "date_to"),
])
async def test_audit_bad_filters_name_the_field(client, params, field):
    await make_user("adm", "admin")
    await login(client, "adm")
    r = await client.get("/audit", params=params)
    assert r.status_code == 422 and f'data-field="{field}"' in r.text and field in r.text
    r = await client.get("/api/audit", params=params)
    assert r.status_code == 422 and r.json()["error"]["field"] == field
    r = await client.get("/audit/export.xlsx", params=params, headers={"accept": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["field"] == field


async def test_audit_is_for_admins_only(client):
    await seed_units()
    for role, unit in (("leader", None), ("instructor", None), ("unit_officer", "520102")):
        await make_user(f"u_{role}", role, unit_code=unit)
        client.cookies.clear()
        await login(client, f"u_{role}")
        for path in ("/audit", "/api/audit", "/audit/export.xlsx"):
            r = await client.get(path, headers={"accept": "application/json"})
            assert r.status_code == 403, (role, path)


async def test_audit_export_reads_back_cell_by_cell(client):
    import io

    from python_calamine import CalamineWorkbook

    await make_user("adm", "admin")
    await login(client, "adm")
    await _trail()
    r = await client.get("/audit/export.xlsx", params={"actor": "alice"})
    assert r.status_code == 200 and r.content[:2] == b"PK"
    assert "attachment" in r.headers["content-disposition"]
    book = CalamineWorkbook.from_filelike(io.BytesIO(r.content))
    rows = book.get_sheet_by_name(book.sheet_names[0]).to_python()
    assert rows[0][0] == "审计日志" and "alice" in rows[1][0]
    assert rows[2][:6] == ["序号", "时间", "操作人", "操作", "对象类型", "对象编号"]
    data = rows[3:]
    entries = await AuditEntry.filter(actor="alice").order_by("id")
    assert [int(row[0]) for row in data] == [e.id for e in entries]
    for row, e in zip(data, entries, strict=True):
        assert row[1] == e.at.astimezone(SHANGHAI).replace(tzinfo=None)
        assert row[2:6] == [e.actor, e.action, e.object_type, e.object_id]
        assert row[10] == e.hash
    unit_row = data[3]
    assert unit_row[6] == '名称: 南明 → 南明区'  # the field by its label, as on the page
    assert unit_row[9] == '=HYPERLINK("x")'  # user text stays text, never a formula
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(r.content)).active
    cell = ws.cell(row=7, column=10)
    assert cell.value == '=HYPERLINK("x")' and cell.data_type == "s"


async def test_audit_export_refuses_more_than_the_limit(client, monkeypatch):
    from core import audit_routes

    await make_user("adm", "admin")
    await login(client, "adm")
    await audit.record_bulk("bulk.test", "thing", range(4))
    monkeypatch.setattr(audit_routes, "EXPORT_LIMIT", 3)
    r = await client.get("/audit/export.xlsx", params={"action": "bulk."},
                         headers={"accept": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "export_too_large"
    r = await client.get("/audit/export.xlsx", params={"action": "bulk.", "object_id": "1"})
    assert r.status_code == 200


def _row_ids(html: str) -> list[int]:
    import re

    return [int(x) for x in re.findall(r'<tr data-id="(\d+)">', html)]
