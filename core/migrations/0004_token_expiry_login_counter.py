from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('core', '0001_initial'), ('core', '0002_pending_upload'), ('core', '0003_audit_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LoginCounter',
            fields=[
                ('bucket', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=200)),
                ('count', fields.IntField(default=0)),
                ('window_ends', fields.BigIntField()),
            ],
            options={'table': 'core_login_counter', 'app': 'core', 'pk_attr': 'bucket', 'table_description': 'One login-limit bucket when no Redis is configured: attempts in a fixed window.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='ApiToken',
            name='expires_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='ApiToken',
            name='revoked_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
