"""The record of every scheduled firing; the unique key makes each firing run once."""

from tortoise import fields
from tortoise.models import Model


class JobRun(Model):
    id = fields.BigIntField(primary_key=True)
    job_id = fields.CharField(max_length=100)
    scheduled_for = fields.DatetimeField()
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    status = fields.CharField(max_length=12, default="running")  # running, ok, failed
    error = fields.TextField(default="")
    changed = fields.JSONField(null=True)
    instance = fields.CharField(max_length=100, default="")
    manual = fields.BooleanField(default=False)

    class Meta:
        table = "core_job_run"
        unique_together = (("job_id", "scheduled_for"),)
        ordering = ["-scheduled_for"]
