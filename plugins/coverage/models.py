"""Registry of non-public enterprises and social organizations, their party organizations,
instructor assignments, period reports and the frozen figures of closed periods."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

KINDS = ("enterprise", "social")
ORG_STATUSES = ("active", "closed", "moved")
PARTY_ORG_TYPES = ("committee", "general_branch", "branch")
FORMATIONS = ("standalone", "joint")
REPORT_STATUSES = ("submitted", "confirmed", "returned")
PARTY_ORG_CHANGES = ("none", "established", "dissolved")


class Organization(Model):
    """A non-public enterprise or social organization, keyed by its unified social credit code.

    valid_from and closed_on bound the days on which it counts in the denominator.
    """

    id = fields.IntField(primary_key=True)
    uscc = fields.CharField(max_length=18, unique=True)
    name = fields.CharField(max_length=200)
    kind = fields.CharField(max_length=12, db_index=True)
    industry = fields.CharField(max_length=100, default="")
    community = fields.ForeignKeyField("core.OrgUnit", related_name="coverage_orgs",
                                       on_delete=fields.RESTRICT)
    employees = fields.IntField(default=0)
    formal_members = fields.IntField(default=0)
    probationary_members = fields.IntField(default=0)
    status = fields.CharField(max_length=8, default="active")
    demo_site = fields.BooleanField(default=False)
    valid_from = fields.DateField(null=True)
    closed_on = fields.DateField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "coverage_org"
        ordering = ["uscc"]
        indexes = (("community_id",),)

    def __str__(self) -> str:
        return f"{self.name}({self.uscc})"


class OrganizationHistory(Model):
    """One change of a field that moves the denominator or the 应建未建 count."""

    id = fields.IntField(primary_key=True)
    organization = fields.ForeignKeyField("coverage.Organization", related_name="history",
                                          on_delete=fields.CASCADE)
    changed_at = fields.DatetimeField(auto_now_add=True)
    source = fields.CharField(max_length=16)  # registry, report, admin
    before = fields.JSONField(null=True)
    after = fields.JSONField()

    class Meta:
        table = "coverage_org_history"
        ordering = ["id"]


class PartyOrg(Model):
    """A party organization: standalone covers its one organization, joint covers several."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200, unique=True)
    type = fields.CharField(max_length=16)
    formation = fields.CharField(max_length=12)
    established = fields.DateField(null=True)
    dissolved_on = fields.DateField(null=True)
    secretary = fields.CharField(max_length=100, default="")
    member_count = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "coverage_party_org"
        ordering = ["name"]


class PartyOrgLink(Model):
    """An organization covered by a party organization."""

    id = fields.IntField(primary_key=True)
    party_org = fields.ForeignKeyField("coverage.PartyOrg", related_name="links",
                                       on_delete=fields.CASCADE)
    organization = fields.ForeignKeyField("coverage.Organization", related_name="party_links",
                                          on_delete=fields.CASCADE)

    class Meta:
        table = "coverage_party_org_link"
        unique_together = (("party_org", "organization"),)
        indexes = (("organization_id",),)


class InstructorAssignment(Model):
    """An instructor covering an organization from start_on (open start when null) to end_on."""

    id = fields.IntField(primary_key=True)
    instructor = fields.ForeignKeyField("core.User", related_name="coverage_assignments",
                                        on_delete=fields.RESTRICT)
    organization = fields.ForeignKeyField("coverage.Organization", related_name="assignments",
                                          on_delete=fields.CASCADE)
    start_on = fields.DateField(null=True)
    end_on = fields.DateField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "coverage_assignment"
        indexes = (("organization_id", "end_on"), ("instructor_id", "end_on"))


class CoverageReport(Model):
    """An instructor's report for one organization and period, keyed by credit code + period."""

    id = fields.IntField(primary_key=True)
    organization = fields.ForeignKeyField("coverage.Organization", related_name="reports",
                                          on_delete=fields.RESTRICT)
    uscc = fields.CharField(max_length=18)
    period_code = fields.CharField(max_length=16, db_index=True)
    party_members = fields.IntField()
    formal_members = fields.IntField()
    probationary_members = fields.IntField()
    party_org_change = fields.CharField(max_length=12, default="none")
    party_org_type = fields.CharField(max_length=16, default="")
    change_date = fields.DateField(null=True)
    secretary = fields.CharField(max_length=100, default="")
    visits = fields.IntField(default=0)
    activities = fields.IntField(default=0)
    remarks = fields.TextField(default="")
    status = fields.CharField(max_length=12, default="submitted")
    return_reason = fields.TextField(default="")
    submitted_by = fields.ForeignKeyField("core.User", related_name="coverage_reports", null=True,
                                         on_delete=fields.SET_NULL)
    submitted_at = fields.DatetimeField()
    reviewed_by = fields.CharField(max_length=64, default="")
    reviewed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "coverage_report"
        unique_together = (("uscc", "period_code"),)
        ordering = ["period_code", "uscc"]
        indexes = (("organization_id", "period_code"),)


class PeriodFact(Model):
    """The state of one organization at the end of a closed period, frozen when it closed."""

    id = fields.IntField(primary_key=True)
    period_code = fields.CharField(max_length=16)
    organization_id = fields.IntField()
    kind = fields.CharField(max_length=12)
    community_id = fields.IntField()
    formal_members = fields.IntField()
    # 0/1 integers rather than booleans so one SQL text serves SQLite and PostgreSQL.
    own = fields.SmallIntField()
    joint = fields.SmallIntField()
    instr = fields.SmallIntField()
    should = fields.SmallIntField()
    # db_default: rows frozen before the column existed need a value in the database.
    demo = fields.SmallIntField(default=0, db_default=0)  # a demonstration site at period end

    class Meta:
        table = "coverage_period_fact"
        unique_together = (("period_code", "organization_id"),)


class PeriodPartyOrg(Model):
    """A party organization covering a counted organization at the end of a closed period."""

    id = fields.IntField(primary_key=True)
    period_code = fields.CharField(max_length=16)
    organization_id = fields.IntField()
    party_org_id = fields.IntField()
    formation = fields.CharField(max_length=12)

    class Meta:
        table = "coverage_period_party_org"
        indexes = (("period_code", "organization_id"),)


class PeriodInstructor(Model):
    """An instructor assignment as it stood at the end of a closed period."""

    id = fields.IntField(primary_key=True)
    period_code = fields.CharField(max_length=16)
    organization_id = fields.IntField()
    instructor_id = fields.IntField()

    class Meta:
        table = "coverage_period_instructor"
        indexes = (("period_code", "organization_id"),)


class PeriodFreeze(Model):
    """Marks a closed period whose figures are frozen in PeriodFact."""

    period_code = fields.CharField(max_length=16, primary_key=True)
    as_of = fields.DateField()
    frozen_at = fields.DatetimeField(auto_now_add=True)
    organizations = fields.IntField(default=0)

    class Meta:
        table = "coverage_period_freeze"


class RegistryImport(Model):
    """One confirmed registry upload."""

    id = fields.IntField(primary_key=True)
    filename = fields.CharField(max_length=200)
    sha256 = fields.CharField(max_length=64)
    full = fields.BooleanField(default=False)
    created = fields.IntField(default=0)
    changed = fields.IntField(default=0)
    unchanged = fields.IntField(default=0)
    errors = fields.IntField(default=0)
    imported_by = fields.CharField(max_length=64, default="")
    imported_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "coverage_registry_import"
        ordering = ["-id"]


class MissingOrganization(Model):
    """An active organization absent from a full registry import, waiting for close or keep."""

    id = fields.IntField(primary_key=True)
    registry_import = fields.ForeignKeyField("coverage.RegistryImport", related_name="missing",
                                             on_delete=fields.CASCADE)
    organization = fields.ForeignKeyField("coverage.Organization", related_name="missing_marks",
                                          on_delete=fields.CASCADE)
    decision = fields.CharField(max_length=8, default="")  # "", close, keep
    decided_by = fields.CharField(max_length=64, default="")
    decided_at = fields.DatetimeField(null=True)

    class Meta:
        table = "coverage_missing_org"
