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
            name='RankingSeen',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('ranking_id', fields.IntField()),
                ('ranking_group', fields.CharField(max_length=64)),
                ('period', fields.CharField(max_length=16)),
                ('published_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('unit_code', fields.CharField(max_length=32)),
                ('rank', fields.IntField(null=True)),
                ('total', fields.FloatField(null=True)),
                ('in_bottom', fields.BooleanField(default=False)),
                ('link', fields.CharField(default='', max_length=300)),
            ],
            options={'table': 'accountability_ranking_seen', 'app': 'accountability', 'unique_together': (('ranking_id', 'unit_code'),), 'indexes': [Index(fields=['ranking_group', 'unit_code'])], 'pk_attr': 'id', 'table_description': 'A published ranking as its event told it: one row per (group, unit, ranking)'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Record',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('unit', fields.ForeignKeyField('core.OrgUnit', source_field='unit_id', db_constraint=True, to_field='id', related_name='accountability_records', on_delete=OnDelete.RESTRICT)),
                ('responsible_person', fields.CharField(default='', max_length=100)),
                ('target', fields.CharField(default='unit', max_length=8)),
                ('trigger_type', fields.CharField(max_length=24)),
                ('trigger_key', fields.CharField(null=True, unique=True, max_length=200)),
                ('trigger_ref', fields.CharField(default='', max_length=100)),
                ('trigger_title', fields.CharField(default='', max_length=300)),
                ('trigger_link', fields.CharField(default='', max_length=300)),
                ('trigger_detail', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('period', fields.CharField(default='', max_length=16)),
                ('measure', fields.CharField(max_length=16)),
                ('points', fields.DecimalField(max_digits=8, decimal_places=2)),
                ('rule_index', fields.IntField(null=True)),
                ('repeat_of', fields.IntField(null=True)),
                ('automatic', fields.BooleanField(default=True)),
                ('status', fields.CharField(default='proposed', db_index=True, max_length=12)),
                ('revision', fields.IntField(default=1)),
                ('prev_state', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('reason', fields.TextField(default='', unique=False)),
                ('approved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('approved_by', fields.CharField(default='', max_length=100)),
                ('carried_out_on', fields.DateField(null=True)),
                ('carried_out_by', fields.CharField(default='', max_length=100)),
                ('carried_out_notes', fields.TextField(default='', unique=False)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'accountability_record', 'app': 'accountability', 'pk_attr': 'id', 'table_description': "One accountability record per trigger (a task, or a unit's bottom-ranking streak)"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Appeal',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('record', fields.ForeignKeyField('accountability.Record', source_field='record_id', db_constraint=True, to_field='id', related_name='appeals', on_delete=OnDelete.CASCADE)),
                ('record_revision', fields.IntField()),
                ('submitted_by', fields.ForeignKeyField('core.User', source_field='submitted_by_id', db_constraint=True, to_field='id', related_name='accountability_appeals', on_delete=OnDelete.RESTRICT)),
                ('submitted_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('reasons', fields.TextField(unique=False)),
                ('evidence_name', fields.CharField(default='', max_length=200)),
                ('evidence_path', fields.CharField(default='', max_length=500)),
                ('evidence_sha256', fields.CharField(default='', max_length=64)),
                ('evidence_size', fields.IntField(default=0)),
                ('status', fields.CharField(default='pending', max_length=12)),
                ('decided_by', fields.CharField(default='', max_length=100)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('decision_reason', fields.TextField(default='', unique=False)),
                ('points_before', fields.DecimalField(null=True, max_digits=8, decimal_places=2)),
                ('points_after', fields.DecimalField(null=True, max_digits=8, decimal_places=2)),
            ],
            options={'table': 'accountability_appeal', 'app': 'accountability', 'unique_together': (('record', 'record_revision'),), 'pk_attr': 'id', 'table_description': '申诉: a unit contests an approved measure'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ProcessedEvent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=200)),
                ('name', fields.CharField(max_length=64)),
                ('record', fields.ForeignKeyField('accountability.Record', source_field='record_id', null=True, db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.SET_NULL)),
                ('outcome', fields.CharField(max_length=16)),
                ('note', fields.TextField(default='', unique=False)),
                ('processed_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'accountability_event', 'app': 'accountability', 'pk_attr': 'id', 'table_description': 'Event keys already handled: a replayed key changes nothing'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RecordHistory',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('record', fields.ForeignKeyField('accountability.Record', source_field='record_id', db_constraint=True, to_field='id', related_name='history', on_delete=OnDelete.CASCADE)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('actor', fields.CharField(max_length=100)),
                ('action', fields.CharField(max_length=32)),
                ('from_status', fields.CharField(default='', max_length=12)),
                ('to_status', fields.CharField(default='', max_length=12)),
                ('from_measure', fields.CharField(default='', max_length=16)),
                ('to_measure', fields.CharField(default='', max_length=16)),
                ('from_points', fields.DecimalField(null=True, max_digits=8, decimal_places=2)),
                ('to_points', fields.DecimalField(null=True, max_digits=8, decimal_places=2)),
                ('note', fields.TextField(default='', unique=False)),
                ('event_key', fields.CharField(default='', max_length=200)),
                ('public', fields.BooleanField(default=False)),
            ],
            options={'table': 'accountability_history', 'app': 'accountability', 'pk_attr': 'id', 'table_description': 'Every step of a record: proposals, upgrades, decisions, appeals'},
            bases=['Model'],
        ),
    ]
