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
            name='Organization',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('uscc', fields.CharField(unique=True, max_length=18)),
                ('name', fields.CharField(max_length=200)),
                ('kind', fields.CharField(db_index=True, max_length=12)),
                ('industry', fields.CharField(default='', max_length=100)),
                ('community', fields.ForeignKeyField('core.OrgUnit', source_field='community_id', db_constraint=True, to_field='id', related_name='coverage_orgs', on_delete=OnDelete.RESTRICT)),
                ('employees', fields.IntField(default=0)),
                ('formal_members', fields.IntField(default=0)),
                ('probationary_members', fields.IntField(default=0)),
                ('status', fields.CharField(default='active', max_length=8)),
                ('demo_site', fields.BooleanField(default=False)),
                ('valid_from', fields.DateField(null=True)),
                ('closed_on', fields.DateField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'coverage_org', 'app': 'coverage', 'indexes': [Index(fields=['community_id'])], 'pk_attr': 'id', 'table_description': 'A non-public enterprise or social organization, keyed by its unified social credit code.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CoverageReport',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('coverage.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='reports', on_delete=OnDelete.RESTRICT)),
                ('uscc', fields.CharField(max_length=18)),
                ('period_code', fields.CharField(db_index=True, max_length=16)),
                ('party_members', fields.IntField()),
                ('formal_members', fields.IntField()),
                ('probationary_members', fields.IntField()),
                ('party_org_change', fields.CharField(default='none', max_length=12)),
                ('party_org_type', fields.CharField(default='', max_length=16)),
                ('change_date', fields.DateField(null=True)),
                ('secretary', fields.CharField(default='', max_length=100)),
                ('visits', fields.IntField(default=0)),
                ('activities', fields.IntField(default=0)),
                ('remarks', fields.TextField(default='', unique=False)),
                ('status', fields.CharField(default='submitted', max_length=12)),
                ('return_reason', fields.TextField(default='', unique=False)),
                ('submitted_by', fields.ForeignKeyField('core.User', source_field='submitted_by_id', null=True, db_constraint=True, to_field='id', related_name='coverage_reports', on_delete=OnDelete.SET_NULL)),
                ('submitted_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('reviewed_by', fields.CharField(default='', max_length=64)),
                ('reviewed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'coverage_report', 'app': 'coverage', 'unique_together': (('uscc', 'period_code'),), 'indexes': [Index(fields=['organization_id', 'period_code'])], 'pk_attr': 'id', 'table_description': "An instructor's report for one organization and period, keyed by credit code + period."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InstructorAssignment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('instructor', fields.ForeignKeyField('core.User', source_field='instructor_id', db_constraint=True, to_field='id', related_name='coverage_assignments', on_delete=OnDelete.RESTRICT)),
                ('organization', fields.ForeignKeyField('coverage.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='assignments', on_delete=OnDelete.CASCADE)),
                ('start_on', fields.DateField(null=True)),
                ('end_on', fields.DateField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'coverage_assignment', 'app': 'coverage', 'indexes': [Index(fields=['organization_id', 'end_on']), Index(fields=['instructor_id', 'end_on'])], 'pk_attr': 'id', 'table_description': 'An instructor covering an organization from start_on (open start when null) to end_on.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OrganizationHistory',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('coverage.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='history', on_delete=OnDelete.CASCADE)),
                ('changed_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('source', fields.CharField(max_length=16)),
                ('before', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('after', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
            ],
            options={'table': 'coverage_org_history', 'app': 'coverage', 'pk_attr': 'id', 'table_description': 'One change of a field that moves the denominator or the 应建未建 count.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PartyOrg',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=200)),
                ('type', fields.CharField(max_length=16)),
                ('formation', fields.CharField(max_length=12)),
                ('established', fields.DateField(null=True)),
                ('dissolved_on', fields.DateField(null=True)),
                ('secretary', fields.CharField(default='', max_length=100)),
                ('member_count', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'coverage_party_org', 'app': 'coverage', 'pk_attr': 'id', 'table_description': 'A party organization: standalone covers its one organization, joint covers several.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PartyOrgLink',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('party_org', fields.ForeignKeyField('coverage.PartyOrg', source_field='party_org_id', db_constraint=True, to_field='id', related_name='links', on_delete=OnDelete.CASCADE)),
                ('organization', fields.ForeignKeyField('coverage.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='party_links', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'coverage_party_org_link', 'app': 'coverage', 'unique_together': (('party_org', 'organization'),), 'indexes': [Index(fields=['organization_id'])], 'pk_attr': 'id', 'table_description': 'An organization covered by a party organization.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PeriodFact',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('period_code', fields.CharField(max_length=16)),
                ('organization_id', fields.IntField()),
                ('kind', fields.CharField(max_length=12)),
                ('community_id', fields.IntField()),
                ('formal_members', fields.IntField()),
                ('own', fields.SmallIntField()),
                ('joint', fields.SmallIntField()),
                ('instr', fields.SmallIntField()),
                ('should', fields.SmallIntField()),
            ],
            options={'table': 'coverage_period_fact', 'app': 'coverage', 'unique_together': (('period_code', 'organization_id'),), 'pk_attr': 'id', 'table_description': 'The state of one organization at the end of a closed period, frozen when it closed.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PeriodFreeze',
            fields=[
                ('period_code', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=16)),
                ('as_of', fields.DateField()),
                ('frozen_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('organizations', fields.IntField(default=0)),
            ],
            options={'table': 'coverage_period_freeze', 'app': 'coverage', 'pk_attr': 'period_code', 'table_description': 'Marks a closed period whose figures are frozen in PeriodFact.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PeriodInstructor',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('period_code', fields.CharField(max_length=16)),
                ('organization_id', fields.IntField()),
                ('instructor_id', fields.IntField()),
            ],
            options={'table': 'coverage_period_instructor', 'app': 'coverage', 'indexes': [Index(fields=['period_code', 'organization_id'])], 'pk_attr': 'id', 'table_description': 'An instructor assignment as it stood at the end of a closed period.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RegistryImport',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('filename', fields.CharField(max_length=200)),
                ('sha256', fields.CharField(max_length=64)),
                ('full', fields.BooleanField(default=False)),
                ('created', fields.IntField(default=0)),
                ('changed', fields.IntField(default=0)),
                ('unchanged', fields.IntField(default=0)),
                ('errors', fields.IntField(default=0)),
                ('imported_by', fields.CharField(default='', max_length=64)),
                ('imported_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'coverage_registry_import', 'app': 'coverage', 'pk_attr': 'id', 'table_description': 'One confirmed registry upload.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MissingOrganization',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('registry_import', fields.ForeignKeyField('coverage.RegistryImport', source_field='registry_import_id', db_constraint=True, to_field='id', related_name='missing', on_delete=OnDelete.CASCADE)),
                ('organization', fields.ForeignKeyField('coverage.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='missing_marks', on_delete=OnDelete.CASCADE)),
                ('decision', fields.CharField(default='', max_length=8)),
                ('decided_by', fields.CharField(default='', max_length=64)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'coverage_missing_org', 'app': 'coverage', 'pk_attr': 'id', 'table_description': 'An active organization absent from a full registry import, waiting for close or keep.'},
            bases=['Model'],
        ),
    ]
