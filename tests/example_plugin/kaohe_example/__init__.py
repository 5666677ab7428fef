"""kaohe_example: notes per org unit. Hook implementations only; the work is in the modules."""

from __future__ import annotations

from pathlib import Path

from core.hookspecs import hookimpl
from core.roles import ADMIN_LEADER

HERE = Path(__file__).parent


@hookimpl
def kaohe_settings_schema():
    from kaohe_example.config import ExampleSettings

    return ExampleSettings


@hookimpl
def kaohe_tortoise_app():
    return {"models": ["kaohe_example.models"], "migrations": "kaohe_example.migrations"}


@hookimpl
def kaohe_messages():
    from core.contrib import plugin_messages

    return plugin_messages(__file__, "example")


@hookimpl
def kaohe_template_dirs():
    return [str(HERE / "templates")]


@hookimpl
def kaohe_pages():
    from kaohe_example.routes import PAGES

    return PAGES


@hookimpl
def kaohe_api_routes():
    from kaohe_example.routes import API

    return API


@hookimpl
def kaohe_nav_items():
    from core.contrib import NavItem

    return [NavItem("example.nav", "/example", ADMIN_LEADER, 80)]


@hookimpl
def kaohe_jobs(settings):
    from kaohe_example.jobs import jobs

    return jobs(settings)


@hookimpl
def kaohe_exporters():
    from kaohe_example.exporters import exporters

    return exporters()


@hookimpl
def kaohe_importers():
    from kaohe_example.importer import importers

    return importers()


@hookimpl
def kaohe_indicator_sources():
    from kaohe_example.indicators import sources

    return sources()


@hookimpl
def kaohe_event_names():
    from kaohe_example.listeners import NAMES

    return NAMES


@hookimpl
def kaohe_event(event):
    from kaohe_example.listeners import handle

    return handle(event)
