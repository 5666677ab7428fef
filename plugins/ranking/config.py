"""The [ranking] section of settings.toml."""

from __future__ import annotations

import msgspec


class RankingSettings(msgspec.Struct, forbid_unknown_fields=True):
    # How often the report job looks for due subscriptions (each firing still runs once).
    reports_check_cron: str = "*/5 * * * *"
    # A firing missed by more than this (platform down) is skipped, not sent late.
    reports_catch_up_hours: int = 24
    # Objection windows and finalization are checked by this job.
    finalize_cron: str = "10 0 * * *"
    # The 公示 page of a published year result is reachable without an account.
    public_notice: bool = False


def of(settings) -> RankingSettings:
    """This plugin's validated section from the instance settings (defaults when absent)."""
    value = settings.plugin("ranking") if settings is not None else None
    return value or RankingSettings()
