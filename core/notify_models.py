"""Inbox messages and the outgoing mail queue."""

from tortoise import fields
from tortoise.models import Model


class InboxMessage(Model):
    id = fields.BigIntField(primary_key=True)
    user = fields.ForeignKeyField("core.User", related_name="inbox", on_delete=fields.CASCADE)
    subject = fields.CharField(max_length=200)
    body = fields.TextField(default="")
    link = fields.CharField(max_length=300, default="")
    # The same event never notifies the same person twice.
    event_key = fields.CharField(max_length=200)
    digest = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    read_at = fields.DatetimeField(null=True)

    class Meta:
        table = "core_inbox"
        unique_together = (("user", "event_key"),)
        ordering = ["-id"]


class MailMessage(Model):
    id = fields.BigIntField(primary_key=True)
    to_addr = fields.CharField(max_length=200)
    subject = fields.CharField(max_length=200)
    body = fields.TextField(default="")
    attachment_path = fields.CharField(max_length=500, default="")
    attachment_name = fields.CharField(max_length=200, default="")
    event_key = fields.CharField(max_length=200, default="")
    status = fields.CharField(max_length=12, default="queued")  # queued, sent, failed, digest
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True)
    last_error = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "core_mail"
        ordering = ["-id"]
