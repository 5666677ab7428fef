"""The report archive: every workbook an exporter produced for people to download."""

from tortoise import fields
from tortoise.models import Model


class ReportFile(Model):
    id = fields.BigIntField(primary_key=True)
    exporter = fields.CharField(max_length=100)
    title = fields.CharField(max_length=200)
    period = fields.CharField(max_length=16, default="")
    unit = fields.CharField(max_length=32, default="")
    group = fields.CharField(max_length=32, default="")
    filename = fields.CharField(max_length=200)
    path = fields.CharField(max_length=500)
    sha256 = fields.CharField(max_length=64)
    size = fields.BigIntField(default=0)
    roles = fields.JSONField(default=list)
    created_by = fields.CharField(max_length=100, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "core_report_file"
        ordering = ["-id"]
