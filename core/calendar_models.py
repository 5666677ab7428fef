"""Working-day schedules loaded by admins for years the bundled calendar does not know."""

from tortoise import fields
from tortoise.models import Model


class CalendarDay(Model):
    day = fields.DateField(primary_key=True)
    is_workday = fields.BooleanField()
    name = fields.CharField(max_length=50, default="")

    class Meta:
        table = "core_calendar_day"
