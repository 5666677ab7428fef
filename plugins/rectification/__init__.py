"""rectification plugin: problems rectified within deadlines through six steps (问题限期整改)."""

from __future__ import annotations

from pathlib import Path

from core.contrib import NavItem
from core.hookspecs import hookimpl
from core.roles import ADMIN_LEADER_OFFICER

HERE = Path(__file__).parent


@hookimpl
def kaohe_settings_schema():
    from plugins.rectification.config import RectificationSettings

    return RectificationSettings


@hookimpl
def kaohe_tortoise_app():
    return {"models": ["plugins.rectification.models"],
            "migrations": "plugins.rectification.migrations"}


@hookimpl
def kaohe_messages():
    from core.contrib import plugin_messages

    return plugin_messages(__file__, "rectification")


@hookimpl
def kaohe_template_dirs():
    return [str(HERE / "templates")]


@hookimpl
def kaohe_pages():
    from plugins.rectification.routes import PAGES

    return PAGES


@hookimpl
def kaohe_api_routes():
    from plugins.rectification.routes import API

    return API


@hookimpl
def kaohe_nav_items():
    return [NavItem("rectification.nav", "/rectification/", ADMIN_LEADER_OFFICER,
                    20)]


@hookimpl
async def kaohe_dashboard_panels(user):
    from plugins.rectification.panels import panels

    return await panels(user)


@hookimpl
def kaohe_jobs(settings):
    from plugins.rectification.jobs import jobs

    return jobs(settings)


@hookimpl
def kaohe_exporters():
    from plugins.rectification.exporters import exporters

    return exporters()


@hookimpl
def kaohe_importers():
    from plugins.rectification.importer import importers

    return importers()


@hookimpl
def kaohe_indicator_sources():
    from plugins.rectification.indicators import sources

    return sources()


@hookimpl
async def kaohe_demo_data(ctx):
    from plugins.rectification.demo import build

    return await build(ctx)


@hookimpl
def kaohe_validate_assessment(section, definition):
    from plugins.rectification.config import validate

    return validate(section)


@hookimpl
def kaohe_apply_assessment(section, definition):
    # The section is read from the current definition when needed (deadline table, limits):
    # nothing to copy, so applying the same file twice is trivially idempotent.
    return None


@hookimpl
def kaohe_event(event):
    from plugins.rectification.listeners import handle

    return handle(event)


@hookimpl
def kaohe_event_names():
    from plugins.rectification.listeners import NAMES

    return list(NAMES)
