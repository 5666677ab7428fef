"""Settings of the [accountability] section of settings.toml (all optional)."""

from __future__ import annotations

import msgspec


class AccountabilitySettings(msgspec.Struct, forbid_unknown_fields=True):
    # Close carried-out records once their appeal window has passed, daily at this time.
    auto_close: bool = True
    close_cron: str = "30 2 * * *"
