from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('core', '0001_initial'), ('core', '0002_pending_upload')]

    initial = True

    operations = [
        ops.CreateModel(
            name='Task',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('number', fields.CharField(unique=True, max_length=32)),
                ('period', fields.ForeignKeyField('core.Period', source_field='period_id', db_constraint=True, to_field='id', related_name='rectification_tasks', on_delete=OnDelete.RESTRICT)),
                ('source', fields.CharField(max_length=32)),
                ('category', fields.CharField(max_length=32)),
                ('title', fields.CharField(max_length=200)),
                ('description', fields.TextField(default='', unique=False)),
                ('severity', fields.CharField(max_length=8)),
                ('unit', fields.ForeignKeyField('core.OrgUnit', source_field='unit_id', db_constraint=True, to_field='id', related_name='rectification_tasks', on_delete=OnDelete.RESTRICT)),
                ('responsible_person', fields.CharField(default='', max_length=64)),
                ('status', fields.CharField(default='registered', max_length=12)),
                ('registered_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('registered_by', fields.CharField(default='', max_length=100)),
                ('dispatched_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('deadline', fields.DateField(null=True)),
                ('deadline_manual', fields.BooleanField(default=False)),
                ('overdue', fields.BooleanField(default=False)),
                ('overdue_since', fields.DateField(null=True)),
                ('overdue_level', fields.IntField(default=0)),
                ('reminded_before', fields.DateField(null=True)),
                ('reminded_passed', fields.DateField(null=True)),
                ('fail_count', fields.IntField(default=0)),
                ('extension_count', fields.IntField(default=0)),
                ('responded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('closed_late', fields.BooleanField(default=False)),
                ('days_to_close', fields.IntField(null=True)),
                ('satisfaction', fields.IntField(null=True)),
                ('evaluation_comment', fields.TextField(default='', unique=False)),
                ('evaluated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('version', fields.IntField(default=1)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'rectification_task', 'app': 'rectification', 'indexes': [Index(fields=['status', 'deadline'])], 'pk_attr': 'id', 'table_description': 'A problem to rectify within a deadline, moved through the six steps'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ExtensionRequest',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('task', fields.ForeignKeyField('rectification.Task', source_field='task_id', db_constraint=True, to_field='id', related_name='extensions', on_delete=OnDelete.CASCADE)),
                ('reason', fields.TextField(unique=False)),
                ('current_deadline', fields.DateField()),
                ('requested_deadline', fields.DateField()),
                ('requested_by', fields.CharField(max_length=100)),
                ('requested_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('status', fields.CharField(default='pending', max_length=10)),
                ('decided_by', fields.CharField(default='', max_length=100)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('granted_deadline', fields.DateField(null=True)),
                ('decision_reason', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'rectification_extension', 'app': 'rectification', 'pk_attr': 'id', 'table_description': 'A request by the unit for a later deadline (延期申请) and the decision on it'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Evidence',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('task', fields.ForeignKeyField('rectification.Task', source_field='task_id', db_constraint=True, to_field='id', related_name='evidence', on_delete=OnDelete.CASCADE)),
                ('extension', fields.ForeignKeyField('rectification.ExtensionRequest', source_field='extension_id', null=True, db_constraint=True, to_field='id', related_name='evidence', on_delete=OnDelete.SET_NULL)),
                ('round', fields.IntField(default=0)),
                ('attached', fields.BooleanField(default=False)),
                ('original_name', fields.CharField(max_length=200)),
                ('stored_name', fields.CharField(unique=True, max_length=80)),
                ('content_type', fields.CharField(max_length=100)),
                ('size', fields.BigIntField()),
                ('sha256', fields.CharField(max_length=64)),
                ('uploaded_by', fields.CharField(max_length=100)),
                ('uploaded_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'rectification_evidence', 'app': 'rectification', 'pk_attr': 'id', 'table_description': 'A file attached to a response or an extension request, stored outside the database'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OverdueNotice',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('task', fields.ForeignKeyField('rectification.Task', source_field='task_id', db_constraint=True, to_field='id', related_name='overdue_notices', on_delete=OnDelete.CASCADE)),
                ('threshold', fields.IntField()),
                ('crossed_on', fields.DateField()),
                ('announced_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'rectification_overdue_notice', 'app': 'rectification', 'unique_together': (('task', 'threshold'),), 'pk_attr': 'id', 'table_description': 'Outbox of overdue thresholds crossed: one row per (task, threshold), ever'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TaskEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('task', fields.ForeignKeyField('rectification.Task', source_field='task_id', db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.CASCADE)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('actor', fields.CharField(max_length=100)),
                ('action', fields.CharField(max_length=32)),
                ('from_status', fields.CharField(default='', max_length=12)),
                ('to_status', fields.CharField(default='', max_length=12)),
                ('reason', fields.TextField(default='', unique=False)),
                ('data', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
            ],
            options={'table': 'rectification_event', 'app': 'rectification', 'pk_attr': 'id', 'table_description': 'One step in the timeline of a task: who did what, when and why'},
            bases=['Model'],
        ),
    ]
