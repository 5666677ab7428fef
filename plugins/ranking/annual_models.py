"""Tables of the assessment year: annual results with their rows and objections, bonus and
deduction entries, self-assessments, reviewer assignments, panels with raters and ballots."""

from tortoise import fields
from tortoise.models import Model


class AnnualResult(Model):
    """The year result of one peer group, a draft until published, frozen with its inputs"""

    id = fields.IntField(primary_key=True)
    year = fields.CharField(max_length=16)
    group = fields.CharField(max_length=48)
    revision = fields.IntField(default=1)
    definition_slug = fields.CharField(max_length=64)
    definition_version = fields.IntField()
    # draft, objection (published, 公示 open), final, superseded
    status = fields.CharField(max_length=12, default="draft")
    unit_count = fields.IntField(default=0)
    rankings = fields.JSONField(default=dict)  # period → id of the published ranking used
    inputs_sha256 = fields.CharField(max_length=64, default="")
    results_sha256 = fields.CharField(max_length=64, default="")
    computed_at = fields.DatetimeField(null=True)
    computed_by = fields.CharField(max_length=100, default="")
    published_at = fields.DatetimeField(null=True)
    published_by = fields.CharField(max_length=100, default="")
    objection_until = fields.DateField(null=True)
    finalized_at = fields.DatetimeField(null=True)
    superseded_by = fields.IntField(null=True)

    class Meta:
        table = "ranking_annual"
        unique_together = (("year", "group", "revision"),)
        ordering = ["-id"]


class AnnualRow(Model):
    """One unit's year score, components, grade and the rule that decided it"""

    id = fields.BigIntField(primary_key=True)
    result = fields.ForeignKeyField("ranking.AnnualResult", related_name="rows",
                                    on_delete=fields.CASCADE)
    position = fields.IntField()
    unit_code = fields.CharField(max_length=32)
    unit_name = fields.CharField(max_length=100)
    rank = fields.IntField(null=True)
    score = fields.DecimalField(max_digits=8, decimal_places=2, null=True)
    base = fields.DecimalField(max_digits=8, decimal_places=2, null=True)
    bonus = fields.DecimalField(max_digits=8, decimal_places=2, default=0)
    deduction = fields.DecimalField(max_digits=8, decimal_places=2, default=0)
    components = fields.JSONField(default=dict)  # component key → score text or null
    band = fields.CharField(max_length=32, default="")
    grade = fields.CharField(max_length=32, default="")
    rule = fields.CharField(max_length=80, default="")
    notes = fields.JSONField(default=list)
    inputs = fields.JSONField(default=dict)  # input key → {"v", "s", "h"}

    class Meta:
        table = "ranking_annual_row"
        unique_together = (("result", "unit_code"),)
        ordering = ["position"]


class AnnualObjection(Model):
    """An objection to a published year result during its 公示"""

    id = fields.IntField(primary_key=True)
    result = fields.ForeignKeyField("ranking.AnnualResult", related_name="objections",
                                    on_delete=fields.RESTRICT)
    unit_code = fields.CharField(max_length=32)
    reason = fields.TextField()
    filed_by = fields.CharField(max_length=100)
    filed_at = fields.DatetimeField(auto_now_add=True)
    status = fields.CharField(max_length=10, default="open")  # open, upheld, rejected
    response = fields.TextField(default="")
    resolved_by = fields.CharField(max_length=100, default="")
    resolved_at = fields.DatetimeField(null=True)

    class Meta:
        table = "ranking_annual_objection"
        ordering = ["-id"]


class Adjustment(Model):
    """A bonus or deduction entry (加分/扣分) of a unit for the year, with its evidence"""

    id = fields.IntField(primary_key=True)
    year = fields.CharField(max_length=16)
    unit_code = fields.CharField(max_length=32)
    item = fields.CharField(max_length=48)
    points = fields.DecimalField(max_digits=8, decimal_places=2)
    evidence = fields.TextField()
    entered_by = fields.CharField(max_length=100)
    entered_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "ranking_adjustment"
        ordering = ["id"]


class ReviewerAssignment(Model):
    """A lead department's reviewer (牵头部门) and one indicator they review"""

    id = fields.IntField(primary_key=True)
    user = fields.ForeignKeyField("core.User", related_name="review_assignments",
                                  on_delete=fields.CASCADE)
    indicator = fields.CharField(max_length=48)
    department = fields.CharField(max_length=100, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "ranking_reviewer"
        unique_together = (("user", "indicator"),)


class SelfAssessment(Model):
    """A unit's own value (自评) for a self-assessed indicator and its review (审核评分)"""

    id = fields.BigIntField(primary_key=True)
    period = fields.CharField(max_length=16)
    unit_code = fields.CharField(max_length=32)
    indicator = fields.CharField(max_length=48)
    value = fields.DecimalField(max_digits=20, decimal_places=4)
    explanation = fields.TextField()
    evidence = fields.JSONField(default=list)  # [{name, sha256, size}]
    submitted_by = fields.CharField(max_length=100)
    submitted_at = fields.DatetimeField()
    status = fields.CharField(max_length=10, default="submitted")  # submitted, accepted, changed
    reviewed_value = fields.DecimalField(max_digits=20, decimal_places=4, null=True)
    review_reason = fields.TextField(default="")
    reviewed_by = fields.CharField(max_length=100, default="")
    reviewed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "ranking_self_assessment"
        unique_together = (("period", "unit_code", "indicator"),)
        ordering = ["period", "unit_code", "indicator"]


class PanelRound(Model):
    """One panel (民主测评) of the year: who may rate, open or closed"""

    id = fields.IntField(primary_key=True)
    year = fields.CharField(max_length=16)
    panel = fields.CharField(max_length=32)
    group = fields.CharField(max_length=48)
    status = fields.CharField(max_length=8, default="open")  # open, closed
    raters = fields.JSONField(default=list)  # usernames invited
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "ranking_panel"
        unique_together = (("year", "panel", "group"),)


class RaterCode(Model):
    """A one-time code for an outside rater (人大代表、政协委员), only its hash kept"""

    id = fields.IntField(primary_key=True)
    round = fields.ForeignKeyField("ranking.PanelRound", related_name="codes",
                                   on_delete=fields.CASCADE)
    code_sha256 = fields.CharField(max_length=64, unique=True)
    label = fields.CharField(max_length=100, default="")
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "ranking_rater_code"


class Ballot(Model):
    """One rater's scores for the units of a panel, cast once"""

    id = fields.IntField(primary_key=True)
    round = fields.ForeignKeyField("ranking.PanelRound", related_name="ballots",
                                   on_delete=fields.CASCADE)
    rater = fields.CharField(max_length=100)  # user:NAME or code:ID
    scores = fields.JSONField(default=dict)  # unit code → score text
    cast_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "ranking_ballot"
        unique_together = (("round", "rater"),)
