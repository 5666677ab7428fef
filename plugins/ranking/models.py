"""Ranking tables: scheme versions, entered values, rankings with frozen inputs, objections,
report subscriptions with their firings and deliveries."""

from tortoise import fields
from tortoise.models import Model


class Scheme(Model):
    """The indicator scheme of one applied assessment definition version"""

    id = fields.IntField(primary_key=True)
    slug = fields.CharField(max_length=64)
    definition_version = fields.IntField()
    sha256 = fields.CharField(max_length=64)
    data = fields.JSONField()
    is_current = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "ranking_scheme"
        unique_together = (("slug", "definition_version"),)
        ordering = ["-id"]


class IndicatorValue(Model):
    """A value entered by hand or uploaded for one unit, indicator and period"""

    id = fields.BigIntField(primary_key=True)
    period = fields.CharField(max_length=16)
    unit_code = fields.CharField(max_length=32)
    indicator = fields.CharField(max_length=48)
    value = fields.DecimalField(max_digits=20, decimal_places=4)
    origin = fields.CharField(max_length=12, default="grid")  # grid, upload, api, cli, demo
    updated_by = fields.CharField(max_length=100, default="")
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "ranking_value"
        unique_together = (("period", "unit_code", "indicator"),)


class Ranking(Model):
    """One computed ranking of a peer group for a period, a draft until published"""

    id = fields.IntField(primary_key=True)
    period = fields.CharField(max_length=16)
    group = fields.CharField(max_length=48)
    revision = fields.IntField(default=1)
    scheme = fields.ForeignKeyField("ranking.Scheme", related_name="rankings",
                                    on_delete=fields.RESTRICT)
    definition_slug = fields.CharField(max_length=64)
    definition_version = fields.IntField()
    # draft, objection (published, objections open), final, superseded (a revision replaced it)
    status = fields.CharField(max_length=12, default="draft")
    missing_policy = fields.CharField(max_length=8)
    top_n = fields.IntField(default=0)
    bottom_n = fields.IntField(default=0)
    unit_count = fields.IntField(default=0)
    excluded_count = fields.IntField(default=0)
    inputs_sha256 = fields.CharField(max_length=64, default="")
    results_sha256 = fields.CharField(max_length=64, default="")
    previous_period = fields.CharField(max_length=16, default="")
    computed_at = fields.DatetimeField(null=True)
    computed_by = fields.CharField(max_length=100, default="")
    published_at = fields.DatetimeField(null=True)
    published_by = fields.CharField(max_length=100, default="")
    objection_until = fields.DateField(null=True)
    finalized_at = fields.DatetimeField(null=True)
    superseded_by = fields.IntField(null=True)
    note = fields.TextField(default="")

    class Meta:
        table = "ranking_ranking"
        unique_together = (("period", "group", "revision"),)
        ordering = ["-id"]

    @property
    def is_published(self) -> bool:
        return self.status in ("objection", "final", "superseded")


class RankingRow(Model):
    """One unit's place in a ranking with its scores and its frozen inputs"""

    id = fields.BigIntField(primary_key=True)
    ranking = fields.ForeignKeyField("ranking.Ranking", related_name="rows",
                                     on_delete=fields.CASCADE)
    position = fields.IntField()
    unit_code = fields.CharField(max_length=32)
    unit_name = fields.CharField(max_length=100)
    rank = fields.IntField(null=True)
    total = fields.DecimalField(max_digits=8, decimal_places=2, null=True)
    prev_rank = fields.IntField(null=True)
    prev_total = fields.DecimalField(max_digits=8, decimal_places=2, null=True)
    flag = fields.CharField(max_length=8, default="")
    excluded = fields.BooleanField(default=False)
    missing = fields.JSONField(default=list)
    aspects = fields.JSONField(default=dict)  # aspect key → score text
    scores = fields.JSONField(default=dict)  # indicator key → score text or null
    # indicator key → {"v": value text or null, "s": source, "h": sha256 of the input}
    inputs = fields.JSONField(default=dict)

    class Meta:
        table = "ranking_row"
        unique_together = (("ranking", "unit_code"),)
        ordering = ["position"]


class Objection(Model):
    """A unit's objection (异议) to a published ranking within the objection window"""

    id = fields.IntField(primary_key=True)
    ranking = fields.ForeignKeyField("ranking.Ranking", related_name="objections",
                                     on_delete=fields.RESTRICT)
    unit_code = fields.CharField(max_length=32)
    indicator = fields.CharField(max_length=48, default="")
    reason = fields.TextField()
    filed_by = fields.CharField(max_length=100)
    filed_at = fields.DatetimeField(auto_now_add=True)
    status = fields.CharField(max_length=10, default="open")  # open, upheld, rejected
    response = fields.TextField(default="")
    resolved_by = fields.CharField(max_length=100, default="")
    resolved_at = fields.DatetimeField(null=True)

    class Meta:
        table = "ranking_objection"
        ordering = ["-id"]


class Subscription(Model):
    """A report schedule: which workbook, for which period, to whom, when"""

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=64, unique=True)
    title = fields.CharField(max_length=200)
    exporter = fields.CharField(max_length=100)
    group = fields.CharField(max_length=48, default="")
    unit = fields.CharField(max_length=32, default="")
    period_rule = fields.CharField(max_length=32, default="last_closed")
    period_kind = fields.CharField(max_length=8, default="")
    cron = fields.CharField(max_length=100)
    calendar = fields.CharField(max_length=16, default="any")  # any, workday, first_workday
    recipients = fields.JSONField(default=list)
    detail_group = fields.CharField(max_length=48, default="")
    origin = fields.CharField(max_length=12, default="admin")  # admin, definition
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    last_fired_for = fields.DatetimeField(null=True)

    class Meta:
        table = "ranking_subscription"
        ordering = ["key"]


class Firing(Model):
    """One run of a subscription, claimed once per scheduled time across instances"""

    id = fields.BigIntField(primary_key=True)
    subscription = fields.ForeignKeyField("ranking.Subscription", related_name="firings",
                                          on_delete=fields.CASCADE)
    scheduled_for = fields.DatetimeField()
    manual = fields.BooleanField(default=False)
    period = fields.CharField(max_length=16, default="")
    status = fields.CharField(max_length=12, default="running")  # running, ok, partial, failed
    error = fields.TextField(default="")
    report_ids = fields.JSONField(default=list)
    started_at = fields.DatetimeField(auto_now_add=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "ranking_firing"
        unique_together = (("subscription", "scheduled_for"),)
        ordering = ["-scheduled_for"]


class Delivery(Model):
    """One recipient's mail of one firing, with its state and retries"""

    id = fields.BigIntField(primary_key=True)
    firing = fields.ForeignKeyField("ranking.Firing", related_name="deliveries",
                                    on_delete=fields.CASCADE)
    recipient = fields.CharField(max_length=200)  # user name or address as configured
    address = fields.CharField(max_length=200, default="")
    report_ids = fields.JSONField(default=list)
    state = fields.CharField(max_length=12, default="queued")  # queued, sent, retrying, failed, skipped
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True)
    last_error = fields.TextField(default="")
    mail_id = fields.BigIntField(null=True)
    sent_at = fields.DatetimeField(null=True)
    reported_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "ranking_delivery"
        ordering = ["id"]
