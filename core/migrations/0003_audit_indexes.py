from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('core', '0001_initial'), ('core', '0002_pending_upload')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='AuditEntry',
            index=Index(fields=['at']),
        ),
        ops.AddIndex(
            model_name='AuditEntry',
            index=Index(fields=['actor']),
        ),
        ops.AddIndex(
            model_name='AuditEntry',
            index=Index(fields=['object_type', 'object_id']),
        ),
    ]
