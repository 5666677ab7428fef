from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('core', '0001_initial'), ('core', '0002_pending_upload'), ('core', '0003_audit_indexes'), ('core', '0004_token_expiry_login_counter')]

    initial = False

    operations = [
        ops.CreateModel(
            name='StoredEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=200)),
                ('name', fields.CharField(max_length=100)),
                ('source', fields.CharField(max_length=64)),
                ('payload', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('occurred_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'core_event', 'app': 'core', 'pk_attr': 'id', 'table_description': 'A domain event, written in the transaction of the change that caused it'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='EventDelivery',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event', fields.ForeignKeyField('core.StoredEvent', source_field='event_id', db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.CASCADE)),
                ('listener', fields.CharField(max_length=64)),
                ('status', fields.CharField(default='pending', max_length=12)),
                ('attempts', fields.IntField(default=0)),
                ('next_try', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.TextField(default='', unique=False)),
                ('delivered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('result', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
            ],
            options={'table': 'core_event_delivery', 'app': 'core', 'unique_together': (('event', 'listener'),), 'indexes': [Index(fields=['status', 'next_try'])], 'pk_attr': 'id', 'table_description': 'One event to one listening plugin: whether it took it, how often it was tried, the error'},
            bases=['Model'],
        ),
    ]
