import datetime as dt

from tortoise import migrations
from tortoise.migrations import operations as ops


async def move_events(apps, editor):
    """The outbox rows and the crossings not yet announced move into the core event store.

    An announced outbox row was taken by every listener of its time: delivered to each
    listener loaded now. An unannounced one, and each unannounced crossing, becomes a
    pending delivery to each listener, due at once (the core.events job delivers it).
    """
    from core import clock
    from core.calendar import WorkCalendar
    from core.events import listeners

    conn = editor.client
    pg = conn.capabilities.dialect == "postgres"
    now = clock.now()

    def p(n):
        return f"${n}" if pg else "?"

    payload = "o.payload::jsonb" if pg else "o.payload"
    stamp = "::timestamptz" if pg else ""
    # A key the listener's own migration stored first (source '') gets its payload here.
    await conn.execute_query(
        f"INSERT INTO core_event (key, name, source, payload, occurred_at) "
        f"SELECT o.key, o.name, 'rectification', {payload}, o.created_at "
        f"FROM rectification_outbox o WHERE true ON CONFLICT (key) DO UPDATE SET "
        f"payload = excluded.payload, source = excluded.source WHERE core_event.source = ''")
    _, kinds = await conn.execute_query("SELECT DISTINCT name FROM rectification_outbox")
    for name, kind in ((n, k["name"]) for k in kinds for n in listeners(name=k["name"])):
        await conn.execute_query(
            f"INSERT INTO core_event_delivery (event_id, listener, status, attempts, next_try, "
            f"last_error, delivered_at) SELECT e.id, {p(1)}, "
            f"CASE WHEN o.announced_at IS NULL THEN 'pending' ELSE 'delivered' END, "
            f"CASE WHEN o.announced_at IS NULL THEN 0 ELSE 1 END, "
            f"CASE WHEN o.announced_at IS NULL THEN {p(2)}{stamp} ELSE NULL END, '', "
            f"o.announced_at "
            f"FROM rectification_outbox o JOIN core_event e ON e.key = o.key "
            f"WHERE o.name = {p(3)} "
            f"ON CONFLICT (event_id, listener) DO NOTHING", [name, now, kind])

    _, rows = await conn.execute_query(
        "SELECT n.task_id, n.threshold, t.number, t.title, t.responsible_person, t.deadline, "
        "u.code AS unit_code, p.code AS period_code FROM rectification_overdue_notice n "
        "JOIN rectification_task t ON t.id = n.task_id JOIN core_org_unit u ON u.id = t.unit_id "
        "JOIN core_period p ON p.id = t.period_id WHERE n.announced_at IS NULL ORDER BY n.id")
    if not rows:
        return
    import orjson

    cal = await WorkCalendar.load()
    today = clock.today()
    for r in rows:
        deadline = r["deadline"]
        deadline = dt.date.fromisoformat(deadline) if isinstance(deadline, str) else deadline
        key = f"rectification.overdue:{r['task_id']}:{r['threshold']}"
        body = orjson.dumps({
            "task_id": r["task_id"], "task_no": r["number"], "title": r["title"],
            "unit_code": r["unit_code"], "responsible_person": r["responsible_person"],
            "deadline": deadline.isoformat(),
            "days_overdue": max(cal.working_days_between(deadline, today), r["threshold"]),
            "threshold": r["threshold"], "period": r["period_code"],
            "link": f"/rectification/tasks/{r['task_id']}"}).decode()
        cast = "::jsonb" if pg else ""
        await conn.execute_query(
            f"INSERT INTO core_event (key, name, source, payload, occurred_at) "
            f"VALUES ({p(1)}, 'rectification.overdue', 'rectification', {p(2)}{cast}, {p(3)}) "
            f"ON CONFLICT (key) DO UPDATE SET payload = excluded.payload, "
            f"source = excluded.source WHERE core_event.source = ''", [key, body, now])
        for name in listeners(name="rectification.overdue"):
            await conn.execute_query(
                f"INSERT INTO core_event_delivery (event_id, listener, status, attempts, "
                f"next_try, last_error) SELECT id, {p(1)}, 'pending', 0, {p(2)}, '' "
                f"FROM core_event WHERE key = {p(3)} "
                f"ON CONFLICT (event_id, listener) DO NOTHING", [name, now, key])


async def keep_unique_crossing(apps, editor):
    """SQLite drops a column by rebuilding the table, and the rebuild leaves out the unique
    (task, threshold) pair that makes each crossing happen once: put it back."""
    if editor.client.capabilities.dialect == "sqlite":
        await editor.client.execute_script(
            'CREATE UNIQUE INDEX IF NOT EXISTS "uid_rectificati_task_id_de1f4c" '
            'ON "rectification_overdue_notice" ("task_id", "threshold")')


class Migration(migrations.Migration):
    dependencies = [('core', '0005_events'), ('rectification', '0004_partial_scan_indexes')]

    initial = False

    operations = [
        # Data first, while the outbox and the announced_at column still exist.
        ops.RunPython(move_events),
        ops.RemoveIndex(
            model_name='OverdueNotice',
            name=None,
            fields=['announced_at'],
        ),
        ops.AlterModelOptions(
            name='OverdueNotice',
            options={'table': 'rectification_overdue_notice', 'app': 'rectification', 'unique_together': (('task', 'threshold'),), 'pk_attr': 'id', 'table_description': 'An overdue threshold crossed: one row per (task, threshold), ever'},
        ),
        ops.RemoveField(model_name='OverdueNotice', name='announced_at'),
        ops.RunPython(keep_unique_crossing),
        ops.DeleteModel(name='EventOutbox'),
    ]
