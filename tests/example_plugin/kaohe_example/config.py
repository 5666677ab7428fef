"""The [example] section of settings.toml."""

import msgspec


class ExampleSettings(msgspec.Struct, forbid_unknown_fields=True):
    # When the job marks new notes as seen (cron, Asia/Shanghai).
    seen_cron: str = "0 6 * * *"
    greeting: str = "示例插件"
