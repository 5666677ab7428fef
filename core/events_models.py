"""The event store: each announced domain event, and its delivery to each listening plugin."""

from tortoise import fields
from tortoise.models import Model

# pending: not yet taken by its listener; delivered: taken (its writes committed with this
# row); failed: the last attempt raised, retried at next_try (none left: next_try is null).
DELIVERY_STATUSES = ("pending", "delivered", "failed")


class StoredEvent(Model):
    """A domain event, written in the transaction of the change that caused it"""

    id = fields.BigIntField(primary_key=True)
    # One real-world occurrence: announcing a stored key again stores and delivers nothing.
    key = fields.CharField(max_length=200, unique=True)
    name = fields.CharField(max_length=100)
    source = fields.CharField(max_length=64)
    payload = fields.JSONField()
    occurred_at = fields.DatetimeField()

    class Meta:
        table = "core_event"
        ordering = ["id"]


class EventDelivery(Model):
    """One event to one listening plugin: whether it took it, how often it was tried, the error"""

    id = fields.BigIntField(primary_key=True)
    event = fields.ForeignKeyField("core.StoredEvent", related_name="deliveries",
                                   on_delete=fields.CASCADE)
    listener = fields.CharField(max_length=64)
    status = fields.CharField(max_length=12, default="pending")
    attempts = fields.IntField(default=0)
    # When the retry job may take it: a little after the announcement for a pending row (the
    # announcer delivers it itself first), after the back-off for a failed one.
    next_try = fields.DatetimeField(null=True)
    last_error = fields.TextField(default="")
    delivered_at = fields.DatetimeField(null=True)
    result = fields.JSONField(null=True)  # what the listener returned, for the admins

    class Meta:
        table = "core_event_delivery"
        # De-duplication: a listener receives an event key at most once.
        unique_together = (("event", "listener"),)
        indexes = (("status", "next_try"),)
        ordering = ["id"]
