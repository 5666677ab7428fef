"""satisfaction plugin (群众满意度测评): public surveys per unit, honest answers, the index."""

from __future__ import annotations

from pathlib import Path

from core.hookspecs import hookimpl
from core.roles import ADMIN_LEADER

HERE = Path(__file__).parent


@hookimpl
def kaohe_settings_schema():
    from plugins.satisfaction.config import SatisfactionSettings

    return SatisfactionSettings


@hookimpl
def kaohe_tortoise_app():
    return {"models": ["plugins.satisfaction.models"],
            "migrations": "plugins.satisfaction.migrations"}


@hookimpl
def kaohe_messages():
    from core.contrib import plugin_messages

    return plugin_messages(__file__, "satisfaction")


@hookimpl
def kaohe_template_dirs():
    return [str(HERE / "templates")]


@hookimpl
def kaohe_pages():
    from plugins.satisfaction.routes import PAGES

    return PAGES


@hookimpl
def kaohe_api_routes():
    from plugins.satisfaction.routes import API

    return API


@hookimpl
def kaohe_nav_items():
    from core.contrib import NavItem

    return [NavItem("satisfaction.nav", "/satisfaction/", ADMIN_LEADER, 35)]


@hookimpl
def kaohe_jobs(settings):
    from plugins.satisfaction.jobs import jobs

    return jobs(settings)


@hookimpl
def kaohe_exporters():
    from plugins.satisfaction.exporters import exporters

    return exporters()


@hookimpl
def kaohe_indicator_sources():
    from plugins.satisfaction.indicators import sources

    return sources()


@hookimpl
def kaohe_validate_assessment(section, definition):
    from plugins.satisfaction.config import validate

    return validate(section, definition)


@hookimpl
def kaohe_apply_assessment(section, definition):
    from plugins.satisfaction.services import apply_section

    return apply_section(section, definition)


@hookimpl
def kaohe_demo_data(ctx):
    from plugins.satisfaction.demo import build

    return build(ctx)
