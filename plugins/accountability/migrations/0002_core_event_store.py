from tortoise import migrations
from tortoise.migrations import operations as ops


async def move_processed_keys(apps, editor):
    """Each handled key becomes a core event (payload unknown: `source` left empty so the
    announcer's own migration may fill it in) delivered to this plugin, with its outcome."""
    conn = editor.client
    pg = conn.capabilities.dialect == "postgres"
    empty = "'{}'::jsonb" if pg else "'{}'"
    if pg:
        result = ("jsonb_build_object('plugin', 'accountability', 'event', a.name, 'key', a.key, "
                  "'status', a.outcome, 'records', CASE WHEN a.record_id IS NULL "
                  "THEN '[]'::jsonb ELSE jsonb_build_array(a.record_id) END, 'message', a.note)")
    else:
        result = ("json_object('plugin', 'accountability', 'event', a.name, 'key', a.key, "
                  "'status', a.outcome, 'records', CASE WHEN a.record_id IS NULL "
                  "THEN json_array() ELSE json_array(a.record_id) END, 'message', a.note)")
    await conn.execute_script(
        f"INSERT INTO core_event (key, name, source, payload, occurred_at) "
        f"SELECT key, name, '', {empty}, processed_at FROM accountability_event WHERE true "
        f"ON CONFLICT (key) DO NOTHING")
    await conn.execute_script(
        f"INSERT INTO core_event_delivery (event_id, listener, status, attempts, next_try, "
        f"last_error, delivered_at, result) "
        f"SELECT e.id, 'accountability', 'delivered', 1, NULL, '', a.processed_at, {result} "
        f"FROM accountability_event a JOIN core_event e ON e.key = a.key WHERE true "
        f"ON CONFLICT (event_id, listener) DO UPDATE SET status = 'delivered', "
        f"delivered_at = excluded.delivered_at, result = excluded.result, last_error = '', "
        f"next_try = NULL")


class Migration(migrations.Migration):
    dependencies = [('accountability', '0001_initial'), ('core', '0001_initial'), ('core', '0002_pending_upload'), ('core', '0003_audit_indexes'), ('core', '0005_events')]

    initial = False

    operations = [
        # The processed-keys table moves into the core event store (delivered rows), then goes.
        ops.RunPython(move_processed_keys),
        ops.DeleteModel(name='ProcessedEvent'),
    ]
