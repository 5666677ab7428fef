from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('core', '0001_initial'), ('core', '0002_pending_upload'), ('rectification', '0001_initial')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='OverdueNotice',
            index=Index(fields=['announced_at']),
        ),
        ops.AddIndex(
            model_name='Task',
            index=Index(fields=['status', 'overdue', 'deadline']),
        ),
        ops.AddIndex(
            model_name='Task',
            index=Index(fields=['status', 'overdue_level', 'deadline']),
        ),
        ops.AddIndex(
            model_name='Task',
            index=Index(fields=['status', 'overdue', 'reminded_passed']),
        ),
    ]
