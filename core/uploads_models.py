"""An upload waiting between its preview and its confirmation."""

from tortoise import fields
from tortoise.models import Model


class PendingUpload(Model):
    """An uploaded workbook and its preview, confirmable once by its uploader before expiry"""

    id = fields.BigIntField(primary_key=True)
    token = fields.CharField(max_length=64, unique=True)
    importer = fields.CharField(max_length=100)
    user = fields.ForeignKeyField("core.User", related_name="pending_uploads",
                                  on_delete=fields.CASCADE)
    filename = fields.CharField(max_length=255)
    data = fields.BinaryField()
    sha256 = fields.CharField(max_length=64)
    preview = fields.JSONField(default=dict)
    context = fields.JSONField(default=dict)
    status = fields.CharField(max_length=16, default="pending")  # pending, confirmed, discarded
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    confirmed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "core_pending_upload"
        ordering = ["-id"]
