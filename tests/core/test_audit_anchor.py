"""Anchors of the audit trail outside the database: tail deletion, rewritten chains, tampered
and foreign anchors, a fresh instance, the daily job with its digest mail, and the admin page.
Deletions and rewrites are made with SQL, as someone with database access would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from tortoise import Tortoise

from core import audit, audit_anchor
from core.audit import AuditEntry
from tests.conftest import login, make_user, with_db


def _cli(settings, *args):
    from core.cli import cli
    from core.commands import register_core_commands

    register_core_commands(cli)
    return CliRunner().invoke(cli, ["--settings", str(settings.source), *args])


async def _entries(n: int, start: int = 0):
    await audit.record_bulk("v.write", "thing", range(start, start + n), after={"k": "v"})


async def _sql(sql: str):
    await Tortoise.get_connection("default").execute_query(sql)


def _anchor_file(settings) -> Path:
    return audit_anchor.anchor_path(settings)


async def _delete_newest(n: int):
    ids = await AuditEntry.all().order_by("-id").limit(n).values_list("id", flat=True)
    await _sql(f"DELETE FROM core_audit WHERE id IN ({', '.join(map(str, ids))})")


def test_fresh_instance_without_anchors_says_so(settings):
    with_db(settings, lambda: _entries(3))
    r = _cli(settings, "audit", "verify")
    assert r.exit_code == 0, r.output
    assert "audit chain intact: 3 entries" in r.output
    assert "no anchor yet" in r.output and str(_anchor_file(settings)) in r.output


def test_tail_deletion_is_reported_with_the_number_missing(settings):
    async def setup():
        await _entries(120)
        return await audit_anchor.write_anchor(settings)

    anchor = with_db(settings, setup)
    assert anchor["count"] == 120
    r = _cli(settings, "audit", "verify")
    assert r.exit_code == 0 and "matches the anchor" in r.output, r.output
    # The anchoring is itself the 121st entry; the newest 50 go, the anchor's last among them.
    with_db(settings, lambda: _delete_newest(50))
    r = _cli(settings, "audit", "verify")
    assert r.exit_code == 1, r.output
    assert "audit chain intact: 71 entries" in r.output  # the chain alone cannot tell
    assert "49 entries missing at the end" in r.output
    assert "records 120 entries" in r.output and "holds 71 of them" in r.output


def test_deletion_stays_visible_after_new_entries_and_a_newer_anchor(settings):
    async def setup():
        await _entries(30)
        await audit_anchor.write_anchor(settings)  # 30 anchored, entry 31 is the anchoring
        await _delete_newest(11)                   # 20 left
        await _entries(40, start=100)              # the chain grows on from entry 20
        await audit_anchor.write_anchor(settings)  # a newer anchor vouches for the cut chain

    with_db(settings, setup)
    r = _cli(settings, "audit", "verify")
    assert r.exit_code == 1, r.output
    assert "10 entries missing at the end" in r.output and "holds 20 of them" in r.output


def test_rewritten_chain_with_fresh_hashes_is_caught_by_the_anchor(settings):
    """Editing an entry and recomputing every hash after it leaves a valid chain: only the
    anchor, which holds the old head hash outside the database, shows it."""
    async def rewrite():
        await _entries(10)
        await audit_anchor.write_anchor(settings)
        rows = await AuditEntry.all().order_by("id")
        prev = rows[3].prev_hash
        for row in rows[3:]:
            reason = "quietly changed" if row.id == rows[3].id else row.reason
            at = row.at.astimezone(audit.dt.UTC).isoformat()
            digest = audit.entry_hash(prev, at, row.actor, row.action, row.object_type,
                                      row.object_id, row.before, row.after, reason)
            await AuditEntry.filter(id=row.id).update(reason=reason, prev_hash=prev, hash=digest)
            prev = digest

    with_db(settings, rewrite)
    r = _cli(settings, "audit", "verify")
    assert r.exit_code == 1, r.output
    assert "audit chain intact: 11 entries" in r.output
    assert "the chain was rewritten" in r.output


@pytest.mark.parametrize("tamper, expect", [
    (lambda d: {**d, "count": d["count"] - 5}, "signature does not verify, refused"),
    (lambda d: {**d, "head_hash": "0" * 64}, "signature does not verify, refused"),
    (lambda d: {**d, "key_id": "0" * 12}, "signed with another key, refused"),
    (lambda d: "not json {", "is not an anchor, refused"),
])
def test_tampered_anchor_is_refused(settings, tamper, expect):
    async def setup():
        await _entries(8)
        await audit_anchor.write_anchor(settings)
        await audit_anchor.write_anchor(settings)

    with_db(settings, setup)
    path = _anchor_file(settings)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2  # history is kept: one line per anchor
    changed = tamper(json.loads(lines[1]))
    lines[1] = changed if isinstance(changed, str) else json.dumps(changed)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = _cli(settings, "audit", "verify")
    assert r.exit_code == 1, r.output
    assert "line 2 of the anchor file" in r.output and expect in r.output
    assert "matches the anchor" in r.output  # line 1 still verifies and matches


def test_anchor_signed_with_another_key_is_refused_and_a_saved_copy_is_read(settings, tmp_path):
    with_db(settings, lambda: _entries(3))
    own = settings.app.secret_key
    settings.core.app.secret_key = "another instance"  # the CLI below boots with the own key
    try:
        with_db(settings, lambda: audit_anchor.write_anchor(settings))
    finally:
        settings.core.app.secret_key = own
    r = _cli(settings, "audit", "verify")
    assert r.exit_code == 1 and "line 1 of the anchor file: signed with another key" in r.output
    # A line kept from the mail digest, checked with --anchors, is signed with the own key.
    with_db(settings, lambda: audit_anchor.write_anchor(settings))
    saved = tmp_path / "from-mail.jsonl"
    saved.write_text(_anchor_file(settings).read_text(encoding="utf-8").splitlines()[1] + "\n")
    r = _cli(settings, "audit", "verify", "--anchors", str(saved))
    assert r.exit_code == 0 and "matches the anchor" in r.output, r.output
    r = _cli(settings, "audit", "verify", "--anchors", str(tmp_path / "nothing.jsonl"))
    assert r.exit_code == 1 and "is missing or empty" in r.output


def test_removed_anchor_file_is_noticed(settings):
    async def setup():
        await _entries(4)
        await audit_anchor.write_anchor(settings)

    with_db(settings, setup)
    _anchor_file(settings).unlink()
    r = _cli(settings, "audit", "verify")
    assert r.exit_code == 1 and "is missing or empty" in r.output and "1 anchors" in r.output


def test_anchor_file_is_json_lines_written_whole(settings):
    async def setup():
        await _entries(5)
        first = await audit_anchor.write_anchor(settings)
        second = await audit_anchor.write_anchor(settings)
        return first, second, await AuditEntry.filter(action="audit.anchor").order_by("id")

    first, second, recorded = with_db(settings, setup)
    path = _anchor_file(settings)
    assert path.parent != Path(settings.database.url[len("sqlite://"):]).parent
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [r["count"] for r in rows] == [5, 6]  # the first anchoring is entry 6
    assert rows[1]["head_hash"] == recorded[0].hash and rows[0]["sig"] == first["sig"]
    assert [e.after["sig"] for e in recorded] == [first["sig"], second["sig"]]
    assert not list(path.parent.glob("*.tmp"))  # nothing left of the atomic replace


def test_anchor_file_in_the_database_folder_is_refused(settings):
    if not settings.database.url.startswith("sqlite://"):
        pytest.skip("the folder rule concerns the SQLite file")
    db_dir = Path(settings.database.url[len("sqlite://"):]).parent
    settings.core.storage.audit_anchor_file = str(db_dir / "anchors.jsonl")
    r = _cli(settings, "audit", "verify")  # the CLI boots from the file: not changed there
    assert r.exit_code == 0
    with pytest.raises(audit_anchor.AnchorError, match="database's folder"):
        audit_anchor.anchor_path(settings)


async def test_daily_job_writes_the_anchor_and_puts_it_in_the_admins_digest(settings, host, db):
    from core.notify import build_digests
    from core.notify_models import MailMessage
    from core.scheduler import PlatformScheduler

    await make_user("adm", "admin", email="adm@example.org")
    await make_user("lead", "leader", email="lead@example.org")
    await _entries(7)
    sched = PlatformScheduler(settings, host, instance="A")
    assert "core.audit_anchor" in sched.jobs
    run = await sched.run_now("core.audit_anchor")
    assert run.status == "ok", run.error
    assert run.changed["count"] == 7 and run.changed["admins_told"] == 1
    line = _anchor_file(settings).read_text(encoding="utf-8").strip()
    await build_digests(settings)
    mails = await MailMessage.filter(status="queued")
    assert [m.to_addr for m in mails] == ["adm@example.org"]
    assert line in mails[0].body and "审计日志锚点" in mails[0].body
    result = await audit_anchor.check(settings)
    assert result.ok and result.state == "match"


async def test_verify_page_in_chinese_and_english(client):
    settings = client.app.state.settings
    await make_user("adm", "admin")
    await login(client, "adm")
    r = await client.get("/audit/verify")
    assert r.status_code == 200 and "暂无锚点" in r.text and "尚未运行校验" in r.text
    r = await client.get("/audit/verify", params={"run": 1})
    assert "尚无锚点" in r.text and 'id="verify-verdict">校验通过' in r.text
    await _entries(60)
    anchor = await audit_anchor.write_anchor(settings)
    r = await client.get("/audit/verify")
    assert str(anchor["count"]) in r.text and anchor["head_hash"] in r.text
    await _delete_newest(20)
    r = await client.get("/audit/verify", params={"run": 1})
    assert 'id="verify-verdict">校验未通过' in r.text
    assert "末尾缺少" in r.text and "条记录" in r.text
    n = anchor["count"] - (await AuditEntry.filter(id__lte=anchor["head_id"]).count())
    assert f"末尾缺少 {n} 条记录" in r.text
    api = (await client.get("/api/audit/verify")).json()
    assert api["ok"] is False and api["state"] == "missing" and api["missing"] == n
    client.cookies.set("lang", "en")
    r = await client.get("/audit/verify", params={"run": 1})
    assert f"{n} entries missing at the end" in r.text and "Check failed" in r.text
    r = await client.get("/audit")
    assert 'href="/audit/verify"' in r.text


async def test_verify_page_is_for_admins_only(client):
    await make_user("lead", "leader")
    await login(client, "lead")
    for path in ("/audit/verify", "/api/audit/verify"):
        r = await client.get(path, headers={"accept": "application/json"})
        assert r.status_code == 403, path
