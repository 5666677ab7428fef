"""Party organizations (党组织数) and demonstration sites (示范点) of closed periods.

Periods frozen before this migration get both reconstructed from the registry as of their
freeze date: party organizations by their established/dissolved dates, demonstration sites
from today's flag (the registry keeps no history of it).
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('core', '0001_initial'), ('core', '0002_pending_upload'), ('core', '0003_audit_indexes'), ('coverage', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PeriodPartyOrg',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('period_code', fields.CharField(max_length=16)),
                ('organization_id', fields.IntField()),
                ('party_org_id', fields.IntField()),
                ('formation', fields.CharField(max_length=12)),
            ],
            options={'table': 'coverage_period_party_org', 'app': 'coverage', 'indexes': [Index(fields=['period_code', 'organization_id'])], 'pk_attr': 'id', 'table_description': 'A party organization covering a counted organization at the end of a closed period.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='PeriodFact',
            name='demo',
            field=fields.SmallIntField(default=0, db_default=0),
        ),
        ops.RunSQL([
            "UPDATE coverage_period_fact SET demo = 1 WHERE organization_id IN "
            "(SELECT id FROM coverage_org WHERE demo_site)",
            "INSERT INTO coverage_period_party_org "
            "(period_code, organization_id, party_org_id, formation) "
            "SELECT pf.period_code, l.organization_id, l.party_org_id, p.formation "
            "FROM coverage_period_fact pf "
            "JOIN coverage_period_freeze z ON z.period_code = pf.period_code "
            "JOIN coverage_party_org_link l ON l.organization_id = pf.organization_id "
            "JOIN coverage_party_org p ON p.id = l.party_org_id "
            "WHERE (p.established IS NULL OR p.established <= z.as_of) "
            "AND (p.dissolved_on IS NULL OR p.dissolved_on > z.as_of)",
        ], reverse_sql=["DELETE FROM coverage_period_party_org"]),
    ]
