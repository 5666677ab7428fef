from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('core', '0003_audit_indexes'), ('rectification', '0002_scan_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='EventOutbox',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=200)),
                ('name', fields.CharField(max_length=100)),
                ('payload', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('announced_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'rectification_outbox', 'app': 'rectification', 'indexes': [Index(fields=['announced_at'])], 'pk_attr': 'id', 'table_description': 'Domain events written with the change that caused them, announced after the commit'},
            bases=['Model'],
        ),
    ]
