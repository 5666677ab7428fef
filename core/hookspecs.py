"""The whole plugin contract of kaohe.

Every hook is documented in docs/plugins.md. A hook implementation may return an
awaitable where the host awaits (marked "may be async"). Hooks that are asked of one
plugin at a time (`per plugin`) let the host know which plugin contributed what.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("kaohe")
hookimpl = pluggy.HookimplMarker("kaohe")


@hookspec
def kaohe_settings_schema() -> Any:
    """Return the msgspec Struct type of this plugin's settings section (per plugin)."""


@hookspec
def kaohe_tortoise_app() -> dict[str, Any]:
    """Return {"models": [modules], "migrations": "pkg.migrations"} for this plugin's app."""


@hookspec
def kaohe_messages() -> dict[str, dict[str, str]]:
    """Return message catalog entries: {"zh": {key: text}, "en": {key: text}}; usually
    `core.contrib.plugin_messages(__file__, NAME)` over the plugin's messages.toml."""


@hookspec
def kaohe_template_dirs() -> list[str]:
    """Return folders holding this plugin's Jinja2 templates."""


@hookspec
def kaohe_pages() -> list[Any]:
    """Return Litestar handlers/controllers for pages, mounted under /<plugin>."""


@hookspec
def kaohe_api_routes() -> list[Any]:
    """Return Litestar handlers/controllers for the JSON API, mounted under /api/<plugin>."""


@hookspec
def kaohe_nav_items() -> list[Any]:
    """Return core.contrib.NavItem entries for the navigation bar, each with its roles."""


@hookspec
def kaohe_dashboard_panels(user: Any) -> list[Any]:
    """Return core.contrib.Panel entries for this user's dashboard (may be async)."""


@hookspec
def kaohe_user_panels(user: Any) -> list[Any]:
    """Return core.contrib.Panel entries for the admin's page of one user account: what the
    user holds in this plugin (may be async)."""


@hookspec
def kaohe_user_leaves_role(user: Any, role: str, reason: str) -> list[Any]:
    """The user stops acting in `role` (disabled, or given another role): end what they held
    in it, inside the caller's transaction; return core.contrib.Notice entries saying what
    ended (may be async)."""


@hookspec
def kaohe_jobs(settings: Any) -> list[Any]:
    """Return core.contrib.JobSpec entries: scheduled checks of this plugin."""


@hookspec
def kaohe_exporters() -> list[Any]:
    """Return core.contrib.Exporter entries: named Excel workbooks this plugin writes."""


@hookspec
def kaohe_importers() -> list[Any]:
    """Return core.contrib.Importer entries: Excel uploads this plugin reads."""


@hookspec
def kaohe_indicator_sources() -> list[Any]:
    """Return core.contrib.IndicatorSource entries: values a ranking can pull."""


@hookspec
def kaohe_event(event: Any) -> Any:
    """React to a stored domain event (core.contrib.DomainEvent), delivered to this plugin once
    per key by core.events, inside a transaction committed with the delivery (may be async)."""


@hookspec
def kaohe_event_names() -> list[str]:
    """The event names this plugin's kaohe_event takes: exact names or 'source.*'. Only these
    are stored for it; a plugin that does not say takes every event."""


@hookspec
def kaohe_cli_commands(cli: Any) -> None:
    """Add click commands to the `kaohe` command group."""


@hookspec
def kaohe_validate_assessment(section: dict[str, Any], definition: dict[str, Any]) -> list[str]:
    """Check this plugin's section of an assessment definition; return errors (per plugin)."""


@hookspec
def kaohe_apply_assessment(section: dict[str, Any], definition: Any) -> Any:
    """Apply this plugin's section of a validated assessment definition (per plugin, may be async)."""


@hookspec
def kaohe_demo_data(ctx: Any) -> Any:
    """Fill the demo database with this plugin's realistic data (per plugin, may be async)."""
