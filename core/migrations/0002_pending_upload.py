from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('core', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PendingUpload',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('token', fields.CharField(unique=True, max_length=64)),
                ('importer', fields.CharField(max_length=100)),
                ('user', fields.ForeignKeyField('core.User', source_field='user_id', db_constraint=True, to_field='id', related_name='pending_uploads', on_delete=OnDelete.CASCADE)),
                ('filename', fields.CharField(max_length=255)),
                ('data', fields.BinaryField()),
                ('sha256', fields.CharField(max_length=64)),
                ('preview', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('context', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('status', fields.CharField(default='pending', max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('confirmed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'core_pending_upload', 'app': 'core', 'pk_attr': 'id', 'table_description': 'An uploaded workbook and its preview, confirmable once by its uploader before expiry'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='ReportFile',
            name='group',
            field=fields.CharField(default='', max_length=32),
        ),
    ]
