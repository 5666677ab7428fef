"""Surveys (满意度测评) and their responses."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Survey(Model):
    """One survey of a period from the assessment definition, with its frozen results"""

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=40, unique=True)
    title = fields.CharField(max_length=200)
    period = fields.ForeignKeyField("core.Period", related_name="satisfaction_surveys",
                                    on_delete=fields.RESTRICT)
    opens = fields.DateField()
    closes = fields.DateField()
    # The survey's part of the definition: questions, units, rule, index, safety, quota,
    # previous, exclude and min_seconds. Units are resolved when read: the definition may name
    # a level whose units are added later.
    spec = fields.JSONField()
    # Addresses are kept only as HMAC(salt, address); emptying the salt at closing makes the
    # remaining hashes meaningless, and they are deleted with it.
    salt = fields.CharField(max_length=64, default="")
    frozen_at = fields.DatetimeField(null=True)
    frozen = fields.JSONField(null=True)
    definition_version = fields.IntField(default=0)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "satisfaction_survey"
        ordering = ["opens", "key"]


class Response(Model):
    """One acknowledged answer sheet, never deleted: suspicious ones carry flags"""

    id = fields.BigIntField(primary_key=True)
    survey = fields.ForeignKeyField("satisfaction.Survey", related_name="responses",
                                    on_delete=fields.RESTRICT)
    unit = fields.ForeignKeyField("core.OrgUnit", related_name="satisfaction_responses",
                                  on_delete=fields.RESTRICT)
    received_at = fields.DatetimeField()
    elapsed_seconds = fields.IntField()
    # The form token's nonce: a replayed form hits this unique key and is refused.
    nonce = fields.CharField(max_length=32, unique=True)
    # HMAC of the signed device cookie: one response per device per survey.
    device_hash = fields.CharField(max_length=64, null=True)
    address_hash = fields.CharField(max_length=64, null=True)
    answers = fields.JSONField()
    flags = fields.CharField(max_length=100, default="")
    excluded = fields.BooleanField(default=False)
    # The answers the results count, copied out of `answers` so results are one GROUP BY.
    index_value = fields.SmallIntField(null=True)
    safety_value = fields.SmallIntField(null=True)
    complaint = fields.TextField(default="")
    complaint_announced_at = fields.DatetimeField(null=True)

    class Meta:
        table = "satisfaction_response"
        unique_together = (("survey", "device_hash"),)
        indexes = (("survey_id", "unit_id"), ("survey_id", "address_hash", "received_at"))
