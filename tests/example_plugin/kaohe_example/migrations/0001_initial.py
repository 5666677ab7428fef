from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('core', '0002_pending_upload')]

    initial = True

    operations = [
        ops.CreateModel(
            name='Note',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('unit', fields.ForeignKeyField('core.OrgUnit', source_field='unit_id', null=True, db_constraint=True, to_field='id', related_name='example_notes', on_delete=OnDelete.RESTRICT)),
                ('text', fields.CharField(max_length=500)),
                ('seen', fields.BooleanField(default=False)),
                ('created_by', fields.CharField(default='', max_length=100)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'example_note', 'app': 'example', 'pk_attr': 'id', 'table_description': 'A note about an org unit, left by an admin and marked seen by the example job'},
            bases=['Model'],
        ),
    ]
