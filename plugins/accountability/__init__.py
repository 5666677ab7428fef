"""accountability plugin (责任追究): escalation ladder, approval, appeals, deductions."""

from __future__ import annotations

from pathlib import Path

from core.hookspecs import hookimpl
from core.roles import ADMIN_LEADER_OFFICER, ADMIN_ONLY

HERE = Path(__file__).parent


@hookimpl
def kaohe_settings_schema():
    from plugins.accountability.config import AccountabilitySettings

    return AccountabilitySettings


@hookimpl
def kaohe_tortoise_app():
    return {"models": ["plugins.accountability.models"],
            "migrations": "plugins.accountability.migrations"}


@hookimpl
def kaohe_messages():
    from core.contrib import plugin_messages

    return plugin_messages(__file__, "accountability")


@hookimpl
def kaohe_template_dirs():
    return [str(HERE / "templates")]


@hookimpl
def kaohe_pages():
    from plugins.accountability.routes import PAGES

    return PAGES


@hookimpl
def kaohe_api_routes():
    from plugins.accountability.routes import API

    return API


@hookimpl
def kaohe_nav_items():
    from core.contrib import NavItem

    return [NavItem("accountability.nav.records", "/accountability/records",
                    ADMIN_LEADER_OFFICER, 40),
            NavItem("accountability.nav.queue", "/accountability/queue", ADMIN_ONLY, 41),
            NavItem("accountability.nav.appeals", "/accountability/appeals", ADMIN_ONLY, 42)]


@hookimpl
def kaohe_dashboard_panels(user):
    from plugins.accountability.panels import panels

    return panels(user)


@hookimpl
def kaohe_jobs(settings):
    from plugins.accountability.jobs import jobs

    return jobs(settings)


@hookimpl
def kaohe_exporters():
    from plugins.accountability.exporters import exporters

    return exporters()


@hookimpl
def kaohe_indicator_sources():
    from plugins.accountability.indicators import sources

    return sources()


@hookimpl
def kaohe_event(event):
    from plugins.accountability.listeners import handle

    return handle(event)


@hookimpl
def kaohe_validate_assessment(section, definition):
    from plugins.accountability.ladder import validate

    return validate(section)


@hookimpl
async def kaohe_demo_data(ctx):
    from plugins.accountability.demo import build

    return await build(ctx)


@hookimpl
def kaohe_event_names():
    from plugins.accountability.listeners import NAMES

    return list(NAMES)
