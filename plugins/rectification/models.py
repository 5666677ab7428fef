"""Rectification tasks (整改事项), their timeline, extension requests, evidence and notices."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

STATUSES = ("registered", "assessed", "rejected", "dispatched", "responded", "closed", "evaluated")
SEVERITIES = ("urgent", "serious", "general")


class Task(Model):
    """A problem to rectify within a deadline, moved through the six steps"""

    id = fields.IntField(primary_key=True)
    number = fields.CharField(max_length=32, unique=True)
    period = fields.ForeignKeyField("core.Period", related_name="rectification_tasks",
                                    on_delete=fields.RESTRICT)
    source = fields.CharField(max_length=32)
    category = fields.CharField(max_length=32)
    title = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    severity = fields.CharField(max_length=8)
    unit = fields.ForeignKeyField("core.OrgUnit", related_name="rectification_tasks",
                                  on_delete=fields.RESTRICT)
    responsible_person = fields.CharField(max_length=64, default="")
    status = fields.CharField(max_length=12, default="registered")
    registered_at = fields.DatetimeField()
    registered_by = fields.CharField(max_length=100, default="")
    dispatched_at = fields.DatetimeField(null=True)
    deadline = fields.DateField(null=True)
    deadline_manual = fields.BooleanField(default=False)
    # Set by the daily scan; overdue_since is the first calendar day past the deadline.
    overdue = fields.BooleanField(default=False)
    overdue_since = fields.DateField(null=True)
    # Highest overdue threshold (working days) already announced; never lowered, so each
    # (task, threshold) event goes out once in the task's life.
    overdue_level = fields.IntField(default=0)
    # The deadline for which each reminder went out; a new deadline empties them (re-arms).
    reminded_before = fields.DateField(null=True)
    reminded_passed = fields.DateField(null=True)
    fail_count = fields.IntField(default=0)
    extension_count = fields.IntField(default=0)
    responded_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)
    closed_late = fields.BooleanField(default=False)
    days_to_close = fields.IntField(null=True)
    satisfaction = fields.IntField(null=True)
    evaluation_comment = fields.TextField(default="")
    evaluated_at = fields.DatetimeField(null=True)
    version = fields.IntField(default=1)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "rectification_task"
        ordering = ["-id"]
        # The daily scan touches only what changed: each of its statements seeks one of these.
        # Two more are partial indexes made in migration 0004 (Meta cannot say IS NULL):
        # not-yet-overdue and overdue-but-not-reminded dispatched tasks, so the thousands of
        # level updates a heavy day makes do not add entries to them.
        indexes = (("status", "deadline"), ("status", "overdue_level", "deadline"))


class TaskEvent(Model):
    """One step in the timeline of a task: who did what, when and why"""

    id = fields.BigIntField(primary_key=True)
    task = fields.ForeignKeyField("rectification.Task", related_name="events",
                                  on_delete=fields.CASCADE)
    at = fields.DatetimeField()
    actor = fields.CharField(max_length=100)
    action = fields.CharField(max_length=32)
    from_status = fields.CharField(max_length=12, default="")
    to_status = fields.CharField(max_length=12, default="")
    reason = fields.TextField(default="")
    data = fields.JSONField(default=dict)

    class Meta:
        table = "rectification_event"
        ordering = ["id"]


class ExtensionRequest(Model):
    """A request by the unit for a later deadline (延期申请) and the decision on it"""

    id = fields.IntField(primary_key=True)
    task = fields.ForeignKeyField("rectification.Task", related_name="extensions",
                                  on_delete=fields.CASCADE)
    reason = fields.TextField()
    current_deadline = fields.DateField()
    requested_deadline = fields.DateField()
    requested_by = fields.CharField(max_length=100)
    requested_at = fields.DatetimeField()
    status = fields.CharField(max_length=10, default="pending")  # pending, approved, rejected
    decided_by = fields.CharField(max_length=100, default="")
    decided_at = fields.DatetimeField(null=True)
    granted_deadline = fields.DateField(null=True)
    decision_reason = fields.TextField(default="")

    class Meta:
        table = "rectification_extension"
        ordering = ["id"]


class Evidence(Model):
    """A file attached to a response or an extension request, stored outside the database"""

    id = fields.IntField(primary_key=True)
    task = fields.ForeignKeyField("rectification.Task", related_name="evidence",
                                  on_delete=fields.CASCADE)
    extension = fields.ForeignKeyField("rectification.ExtensionRequest", related_name="evidence",
                                       null=True, on_delete=fields.SET_NULL)
    # Which response round the file belongs to (fail_count at upload); 0 before the first.
    round = fields.IntField(default=0)
    attached = fields.BooleanField(default=False)
    original_name = fields.CharField(max_length=200)
    stored_name = fields.CharField(max_length=80, unique=True)
    content_type = fields.CharField(max_length=100)
    size = fields.BigIntField()
    sha256 = fields.CharField(max_length=64)
    uploaded_by = fields.CharField(max_length=100)
    uploaded_at = fields.DatetimeField()

    class Meta:
        table = "rectification_evidence"
        ordering = ["id"]


class OverdueNotice(Model):
    """An overdue threshold crossed: one row per (task, threshold), ever"""

    id = fields.BigIntField(primary_key=True)
    task = fields.ForeignKeyField("rectification.Task", related_name="overdue_notices",
                                  on_delete=fields.CASCADE)
    threshold = fields.IntField()
    crossed_on = fields.DateField()

    class Meta:
        table = "rectification_overdue_notice"
        unique_together = (("task", "threshold"),)
        ordering = ["id"]
