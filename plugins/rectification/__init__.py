"""rectification plugin: problems rectified within deadlines through six steps (问题限期整改)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from core.contrib import IndicatorSource, NavItem
from core.hookspecs import hookimpl

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
    data = tomllib.loads((HERE / "messages.toml").read_text("utf-8"))
    return {lang: {"rectification": entries} for lang, entries in data.items()}


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
    return [NavItem("rectification.nav", "/rectification/", ("admin", "unit_officer", "leader"),
                    20)]


@hookimpl
async def kaohe_dashboard_panels(user):
    from plugins.rectification.routes import dashboard_panels

    return await dashboard_panels(user)


@hookimpl
def kaohe_jobs(settings):
    from plugins.rectification.jobs import jobs

    return jobs(settings)


@hookimpl
def kaohe_exporters():
    from plugins.rectification.exporters import EXPORTERS

    return EXPORTERS


@hookimpl
def kaohe_importers():
    from core.contrib import Importer
    from plugins.rectification import importer

    return [Importer(importer.NAME, "rectification.import_title", importer.preview, importer.confirm,
                     importer.template, roles=("admin",), done=importer.done,
                     back="/rectification/queue?step=registered",
                     template_filename="rectification-tasks.xlsx")]


@hookimpl
def kaohe_indicator_sources():
    from plugins.rectification import queries as q

    return [
        IndicatorSource("rectification.on_time_rate", "按期整改率", "%", q.on_time_rate),
        IndicatorSource("rectification.overdue_count", "超期整改件数", "件", q.overdue_count,
                        higher_is_better=False),
        IndicatorSource("rectification.avg_days_to_close", "平均办结工作日", "工作日",
                        q.avg_days_to_close, higher_is_better=False),
        IndicatorSource("rectification.avg_satisfaction", "平均满意度", "分", q.avg_satisfaction),
    ]


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
    from plugins.rectification.complaints import handle

    return handle(event)


@hookimpl
def kaohe_event_names():
    from plugins.rectification.complaints import EVENT

    return [EVENT]
