"""The plugin's own Tortoise app (label `example`), with a foreign key into core."""

from tortoise import fields
from tortoise.models import Model


class Note(Model):
    """A note about an org unit, left by an admin and marked seen by the example job"""

    id = fields.IntField(primary_key=True)
    unit = fields.ForeignKeyField("core.OrgUnit", related_name="example_notes", null=True,
                                  on_delete=fields.RESTRICT)
    text = fields.CharField(max_length=500)
    seen = fields.BooleanField(default=False)
    created_by = fields.CharField(max_length=100, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "example_note"
        ordering = ["-id"]
