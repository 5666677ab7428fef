from tortoise import migrations
from tortoise.migrations import operations as ops

class Migration(migrations.Migration):
    dependencies = [('core', '0001_initial'), ('core', '0002_pending_upload'), ('core', '0003_audit_indexes'), ('rectification', '0003_event_outbox')]

    initial = False

    operations = [
        ops.RemoveIndex(
            model_name='Task',
            name=None,
            fields=['status', 'overdue', 'deadline'],
        ),
        ops.RemoveIndex(
            model_name='Task',
            name=None,
            fields=['status', 'overdue', 'reminded_passed'],
        ),
        # Partial: a task leaves each index as the scan updates it (marked overdue,
        # reminded), so raising overdue levels, the bulk of a heavy day, never touches them.
        # The predicates are written exactly as scan.py's queries write them, which SQLite
        # needs to use a partial index; status leads so SQLite prefers these over the full
        # (status, deadline) index even without ANALYZE statistics.
        ops.RunSQL([
            "CREATE INDEX rect_task_not_overdue ON rectification_task (status, deadline) "
            "WHERE status = 'dispatched' AND overdue = FALSE",
            "CREATE INDEX rect_task_passed_unreminded ON rectification_task (status, deadline) "
            "WHERE status = 'dispatched' AND overdue = TRUE AND reminded_passed IS NULL",
        ], reverse_sql=[
            "DROP INDEX rect_task_not_overdue",
            "DROP INDEX rect_task_passed_unreminded",
        ]),
    ]
