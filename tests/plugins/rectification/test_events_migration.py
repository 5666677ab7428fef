"""Migrations into the core event store: rectification's outbox and unannounced crossings and
accountability's processed keys keep their delivered state; the old tables go."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import types
import uuid

import pytest
from tortoise import Tortoise
from tortoise.exceptions import IntegrityError
from tortoise.migrations.executor import MigrationExecutor, MigrationTarget

from core import db as core_db
from core.boot import boot
from core.hookspecs import hookimpl
from tests.conftest import BACKEND, _pg_exec, pg_admin_url, seed_units, write_settings

BEFORE = [MigrationTarget("core", "0003_audit_indexes"),
          MigrationTarget("rectification", "0004_partial_scan_indexes"),
          MigrationTarget("accountability", "0001_initial")]
ANNOUNCED = dt.datetime(2026, 10, 12, 2, tzinfo=dt.UTC)


@pytest.fixture
def fresh_url(tmp_path):
    if BACKEND != "postgres":
        yield f"sqlite://{tmp_path / 'old.sqlite3'}"
        return
    name = f"kaohe_mig_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_pg_exec(f'CREATE DATABASE "{name}"'))
    except OSError as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    yield pg_admin_url(name)
    asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _old_data(conn, pg: bool) -> dict:
    """What the platform held before the store: two outbox rows (one announced), two
    crossings (one announced), three processed keys of accountability."""
    from core.orgs import OrgUnit, Period
    from plugins.rectification.models import Task

    await seed_units()
    unit, period = await OrgUnit.get(code="520102001"), await Period.get(code="2014")
    tasks = [await Task.create(number=f"ZG-{i}", period=period, source="grid",
                               category="general", title=f"问题{i}", severity="urgent",
                               unit=unit, responsible_person="张三", status="dispatched",
                               registered_at=ANNOUNCED, deadline=dt.date(2026, 10, 9))
             for i in (1, 2)]
    p = (lambda n: f"${n}") if pg else (lambda n: "?")
    failed = {"task_id": tasks[0].id, "fail_count": 1, "reason": "不合格"}
    for key, announced in ((f"rectification.verification_failed:{tasks[0].id}:1", None),
                           (f"rectification.verification_failed:{tasks[1].id}:1", ANNOUNCED)):
        await conn.execute_query(
            f"INSERT INTO rectification_outbox (key, name, payload, created_at, announced_at) "
            f"VALUES ({p(1)}, 'rectification.verification_failed', {p(2)}, {p(3)}, {p(4)})",
            [key, json.dumps(failed, ensure_ascii=False), ANNOUNCED, announced])
    for task, announced in ((tasks[0], None), (tasks[1], ANNOUNCED)):
        await conn.execute_query(
            f"INSERT INTO rectification_overdue_notice (task_id, threshold, crossed_on, "
            f"announced_at) VALUES ({p(1)}, 1, {p(2)}, {p(3)})",
            [task.id, dt.date(2026, 10, 12) if pg else "2026-10-12", announced])
    # accountability took the unannounced outbox row (another listener had failed on it),
    # the announced one, and a ranking it refused nothing of.
    for key, name, outcome in (
            (f"rectification.verification_failed:{tasks[0].id}:1",
             "rectification.verification_failed", "no_rule"),
            (f"rectification.verification_failed:{tasks[1].id}:1",
             "rectification.verification_failed", "no_rule"),
            ("ranking.published:5", "ranking.published", "created")):
        await conn.execute_query(
            f"INSERT INTO accountability_event (key, name, outcome, note, processed_at) "
            f"VALUES ({p(1)}, {p(2)}, {p(3)}, '', {p(4)})", [key, name, outcome, ANNOUNCED])
    return {"tasks": [t.id for t in tasks]}


async def _tables(conn) -> set[str]:
    if conn.capabilities.dialect == "postgres":
        rows = await conn.execute_query_dict(
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'")
    else:
        rows = await conn.execute_query_dict("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {r["name"] for r in rows}


def test_outbox_crossings_and_processed_keys_keep_their_delivered_state(fresh_url, tmp_path):
    settings, host = boot(str(write_settings(tmp_path / "cfg", fresh_url)))
    heard: list = []
    module = types.ModuleType("migration_listener")

    @hookimpl
    def kaohe_event(event):
        heard.append((event.key, event.payload))

    module.kaohe_event = kaohe_event
    host.register("migration_listener", module)

    async def run():
        from core import events
        from core.events_models import EventDelivery, StoredEvent
        from plugins.rectification.models import OverdueNotice

        config = await core_db.init_db(settings, host)
        try:
            conn = Tortoise.get_connection("default")
            executor = MigrationExecutor(conn, config["apps"])
            await executor.migrate(BEFORE)
            old = await _old_data(conn, conn.capabilities.dialect == "postgres")
            t1, t2 = old["tasks"]
            await core_db.migrate(config)

            assert not {"rectification_outbox", "accountability_event"} & await _tables(conn)
            state = {(d.event.key, d.listener): d.status for d in
                     await EventDelivery.all().select_related("event")}
            unannounced = f"rectification.verification_failed:{t1}:1"
            announced = f"rectification.verification_failed:{t2}:1"
            crossing = f"rectification.overdue:{t1}:1"
            assert state[(announced, "migration_listener")] == "delivered"
            assert state[(announced, "accountability")] == "delivered"
            assert state[(unannounced, "migration_listener")] == "pending"
            assert state[(unannounced, "accountability")] == "delivered"  # it had taken it
            assert state[(crossing, "migration_listener")] == "pending"
            assert state[("ranking.published:5", "accountability")] == "delivered"
            assert not await StoredEvent.filter(key=f"rectification.overdue:{t2}:1").exists()
            taken = await EventDelivery.get(event__key="ranking.published:5",
                                            listener="accountability")
            assert taken.result["status"] == "created" and taken.delivered_at == ANNOUNCED
            # The outbox payload wins over the placeholder accountability's keys made.
            stored = await StoredEvent.get(key=unannounced)
            assert (stored.source, stored.payload["reason"]) == ("rectification", "不合格")
            event = await StoredEvent.get(key=crossing)
            assert event.payload["task_id"] == t1 and event.payload["threshold"] == 1
            assert event.payload["days_overdue"] >= 1 and event.payload["period"] == "2014"

            report = await events.retry_due(host)  # pending ones are due at once
            assert sorted(o.key for o in report.outcomes if o.listener == "migration_listener") \
                == sorted([unannounced, crossing])
            assert not [o for o in report.outcomes if o.listener == "accountability"
                        and o.key == unannounced]  # never a second time
            assert (await events.retry_due(host)).outcomes == []
            assert sorted(k for k, _ in heard) == sorted([unannounced, crossing])
            # The crossing stays unique after SQLite rebuilt the table to drop a column.
            with pytest.raises(IntegrityError):
                await OverdueNotice.create(task_id=t1, threshold=1, crossed_on=dt.date(2026, 10, 13))
        finally:
            await core_db.close_db()

    asyncio.run(run())
