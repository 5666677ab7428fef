"""Start-up shared by the web app and the CLI: settings → plugins → plugin settings → catalog."""

from __future__ import annotations

import logging
from typing import Any

from core import clock, i18n
from core.plugins import PluginHost, set_host
from core.settings import (
    Settings,
    SettingsError,
    load_settings,
    set_current,
    validate_plugin_sections,
)


def boot(settings: Settings | str | None = None, extra_plugins: dict[str, Any] | None = None,
         environ: dict[str, str] | None = None) -> tuple[Settings, PluginHost]:
    if not isinstance(settings, Settings):
        settings = load_settings(settings, environ=environ)
    try:
        clock.configure(settings.app.timezone, settings.app.today)
    except clock.ClockError as exc:
        raise SettingsError(str(exc)) from None
    logging.basicConfig(level=logging.DEBUG if settings.app.debug else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("tortoise").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per job and firing is noise
    host = PluginHost().load(settings.plugins.disabled, settings.plugins.required, extra_plugins)
    validate_plugin_sections(settings, host.per_plugin("kaohe_settings_schema"))
    for messages in host.per_plugin("kaohe_messages").values():
        i18n.add(messages or {})
    set_host(host)
    set_current(settings)
    return settings, host
