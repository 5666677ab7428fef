"""kaohe_example: notes per org unit. Hook implementations only; the work is in the modules."""

from __future__ import annotations

import tomllib
from pathlib import Path

from core.hookspecs import hookimpl

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
    data = tomllib.loads((HERE / "messages.toml").read_text("utf-8"))
    return {lang: {"example": entries} for lang, entries in data.items()}


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

    return [NavItem("example.nav", "/example", ("admin", "leader"), 80)]


@hookimpl
def kaohe_jobs(settings):
    from kaohe_example.jobs import jobs

    return jobs(settings)


@hookimpl
def kaohe_exporters():
    from kaohe_example.exporters import EXPORTERS

    return EXPORTERS


@hookimpl
def kaohe_importers():
    from core.contrib import Importer, ImportField
    from kaohe_example import importer

    return [Importer(importer.NAME, "example.import", importer.preview, importer.confirm,
                     importer.template, roles=("admin",), back="/example", done=importer.done,
                     template_filename="example-notes.xlsx",
                     fields=(ImportField("seen", "example.mark_seen", kind="bool"),))]


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
