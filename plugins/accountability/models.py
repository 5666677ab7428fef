"""Accountability records, their history and appeals, and the rankings events told of."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

STATUSES = ("proposed", "approved", "dismissed", "carried_out", "closed", "withdrawn")
# Statuses in which a measure stands (the unit has been told of it).
STANDING = ("approved", "carried_out", "closed")
DEDUCTED = ("carried_out", "closed")


class Record(Model):
    """One accountability record per trigger (a task, or a unit's bottom-ranking streak)"""

    id = fields.IntField(primary_key=True)
    unit = fields.ForeignKeyField("core.OrgUnit", related_name="accountability_records",
                                  on_delete=fields.RESTRICT)
    responsible_person = fields.CharField(max_length=100, default="")
    target = fields.CharField(max_length=8, default="unit")  # unit | head
    trigger_type = fields.CharField(max_length=24)  # overdue, verification_failed, bottom_ranking, manual
    # One record per trigger: "task:{id}" or "bottom:{group}:{unit}:{first ranking id}".
    trigger_key = fields.CharField(max_length=200, null=True, unique=True)
    trigger_ref = fields.CharField(max_length=100, default="")  # task number or ranking ids
    trigger_title = fields.CharField(max_length=300, default="")
    trigger_link = fields.CharField(max_length=300, default="")
    trigger_detail = fields.JSONField(default=dict)
    period = fields.CharField(max_length=16, default="")  # the event's period, for display
    measure = fields.CharField(max_length=16)
    points = fields.DecimalField(max_digits=8, decimal_places=2)
    rule_index = fields.IntField(null=True)
    repeat_of = fields.IntField(null=True)  # the earlier record that made this one a repeat
    automatic = fields.BooleanField(default=True)
    status = fields.CharField(max_length=12, default="proposed", db_index=True)
    # Bumped by every upgrade; an appeal belongs to one revision.
    revision = fields.IntField(default=1)
    # The standing state an upgrade replaced: restored when the upgrade is dismissed.
    prev_state = fields.JSONField(null=True)
    reason = fields.TextField(default="")  # why (manual records) or the dismissal reason
    approved_at = fields.DatetimeField(null=True)
    approved_by = fields.CharField(max_length=100, default="")
    carried_out_on = fields.DateField(null=True)
    carried_out_by = fields.CharField(max_length=100, default="")
    carried_out_notes = fields.TextField(default="")
    closed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "accountability_record"
        ordering = ["-id"]


class RecordHistory(Model):
    """Every step of a record: proposals, upgrades, decisions, appeals"""

    id = fields.IntField(primary_key=True)
    record = fields.ForeignKeyField("accountability.Record", related_name="history",
                                    on_delete=fields.CASCADE)
    at = fields.DatetimeField(auto_now_add=True)
    actor = fields.CharField(max_length=100)
    action = fields.CharField(max_length=32)
    from_status = fields.CharField(max_length=12, default="")
    to_status = fields.CharField(max_length=12, default="")
    from_measure = fields.CharField(max_length=16, default="")
    to_measure = fields.CharField(max_length=16, default="")
    from_points = fields.DecimalField(max_digits=8, decimal_places=2, null=True)
    to_points = fields.DecimalField(max_digits=8, decimal_places=2, null=True)
    note = fields.TextField(default="")
    event_key = fields.CharField(max_length=200, default="")
    # Steps of a proposal stay internal until an admin approves it.
    public = fields.BooleanField(default=False)

    class Meta:
        table = "accountability_history"
        ordering = ["id"]


class Appeal(Model):
    """申诉: a unit contests an approved measure"""

    id = fields.IntField(primary_key=True)
    record = fields.ForeignKeyField("accountability.Record", related_name="appeals",
                                    on_delete=fields.CASCADE)
    record_revision = fields.IntField()
    submitted_by = fields.ForeignKeyField("core.User", related_name="accountability_appeals",
                                          on_delete=fields.RESTRICT)
    submitted_at = fields.DatetimeField(auto_now_add=True)
    reasons = fields.TextField()
    evidence_name = fields.CharField(max_length=200, default="")
    evidence_path = fields.CharField(max_length=500, default="")
    evidence_sha256 = fields.CharField(max_length=64, default="")
    evidence_size = fields.IntField(default=0)
    status = fields.CharField(max_length=12, default="pending")  # pending, upheld, reduced, withdrawn, superseded
    decided_by = fields.CharField(max_length=100, default="")
    decided_at = fields.DatetimeField(null=True)
    decision_reason = fields.TextField(default="")
    points_before = fields.DecimalField(max_digits=8, decimal_places=2, null=True)
    points_after = fields.DecimalField(max_digits=8, decimal_places=2, null=True)

    class Meta:
        table = "accountability_appeal"
        unique_together = (("record", "record_revision"),)
        ordering = ["-id"]


class RankingSeen(Model):
    """A published ranking as its event told it: one row per (group, unit, ranking)"""

    id = fields.IntField(primary_key=True)
    ranking_id = fields.IntField()
    ranking_group = fields.CharField(max_length=64)
    period = fields.CharField(max_length=16)
    published_at = fields.DatetimeField()
    unit_code = fields.CharField(max_length=32)
    rank = fields.IntField(null=True)
    total = fields.FloatField(null=True)  # the unit's total score in that ranking
    in_bottom = fields.BooleanField(default=False)
    link = fields.CharField(max_length=300, default="")

    class Meta:
        table = "accountability_ranking_seen"
        unique_together = (("ranking_id", "unit_code"),)
        indexes = (("ranking_group", "unit_code"),)
        ordering = ["published_at", "ranking_id"]
