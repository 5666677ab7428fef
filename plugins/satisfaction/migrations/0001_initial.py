from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('core', '0001_initial'), ('core', '0002_pending_upload'), ('core', '0003_audit_indexes')]

    initial = True

    operations = [
        ops.CreateModel(
            name='Survey',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=40)),
                ('title', fields.CharField(max_length=200)),
                ('period', fields.ForeignKeyField('core.Period', source_field='period_id', db_constraint=True, to_field='id', related_name='satisfaction_surveys', on_delete=OnDelete.RESTRICT)),
                ('opens', fields.DateField()),
                ('closes', fields.DateField()),
                ('spec', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('salt', fields.CharField(default='', max_length=64)),
                ('frozen_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('frozen', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('definition_version', fields.IntField(default=0)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'satisfaction_survey', 'app': 'satisfaction', 'pk_attr': 'id', 'table_description': 'One survey of a period from the assessment definition, with its frozen results'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Response',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('survey', fields.ForeignKeyField('satisfaction.Survey', source_field='survey_id', db_constraint=True, to_field='id', related_name='responses', on_delete=OnDelete.RESTRICT)),
                ('unit', fields.ForeignKeyField('core.OrgUnit', source_field='unit_id', db_constraint=True, to_field='id', related_name='satisfaction_responses', on_delete=OnDelete.RESTRICT)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('elapsed_seconds', fields.IntField()),
                ('nonce', fields.CharField(unique=True, max_length=32)),
                ('device_hash', fields.CharField(null=True, max_length=64)),
                ('address_hash', fields.CharField(null=True, max_length=64)),
                ('answers', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('flags', fields.CharField(default='', max_length=100)),
                ('excluded', fields.BooleanField(default=False)),
                ('index_value', fields.SmallIntField(null=True)),
                ('safety_value', fields.SmallIntField(null=True)),
                ('complaint', fields.TextField(default='', unique=False)),
                ('complaint_announced_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'satisfaction_response', 'app': 'satisfaction', 'unique_together': (('survey', 'device_hash'),), 'indexes': [Index(fields=['survey_id', 'unit_id']), Index(fields=['survey_id', 'address_hash', 'received_at'])], 'pk_attr': 'id', 'table_description': 'One acknowledged answer sheet, never deleted: suspicious ones carry flags'},
            bases=['Model'],
        ),
    ]
