"""ranking plugin (工作绩效排位): weighted indicators, published rankings, scheduled reports."""

from __future__ import annotations

from pathlib import Path

from core.hookspecs import hookimpl
from core.roles import ADMIN_LEADER_OFFICER, ADMIN_OFFICER, ADMIN_ONLY

HERE = Path(__file__).parent


@hookimpl
def kaohe_settings_schema():
    from plugins.ranking.config import RankingSettings

    return RankingSettings


@hookimpl
def kaohe_tortoise_app():
    return {"models": ["plugins.ranking.models", "plugins.ranking.annual_models"],
            "migrations": "plugins.ranking.migrations"}


@hookimpl
def kaohe_messages():
    from core.contrib import plugin_messages

    return plugin_messages(__file__, "ranking")


@hookimpl
def kaohe_template_dirs():
    return [str(HERE / "templates")]


@hookimpl
def kaohe_pages():
    from plugins.ranking.annual_routes import PAGES as ANNUAL
    from plugins.ranking.routes import PAGES
    from plugins.ranking.self_routes import PAGES as SELF
    from plugins.ranking.subscription_routes import PAGES as SUBSCRIPTION

    return PAGES + ANNUAL + SELF + SUBSCRIPTION


@hookimpl
def kaohe_api_routes():
    from plugins.ranking.api_routes import API

    return API


@hookimpl
def kaohe_nav_items():
    from core.contrib import NavItem

    return [NavItem("ranking.nav.rankings", "/ranking", ADMIN_LEADER_OFFICER, 30),
            NavItem("ranking.nav.annual", "/ranking/annual", ADMIN_LEADER_OFFICER,
                    30),
            NavItem("ranking.nav.self", "/ranking/self", ADMIN_OFFICER, 30),
            NavItem("ranking.nav.review", "/ranking/review", ADMIN_OFFICER, 30),
            NavItem("ranking.nav.values", "/ranking/values", ADMIN_ONLY, 31),
            NavItem("ranking.nav.subscriptions", "/ranking/subscriptions", ADMIN_ONLY, 32)]


@hookimpl
def kaohe_dashboard_panels(user):
    from plugins.ranking.panels import panels

    return panels(user)


@hookimpl
def kaohe_jobs(settings):
    from plugins.ranking.jobs import jobs

    return jobs(settings)


@hookimpl
def kaohe_exporters():
    from plugins.ranking.exporters import exporters

    return exporters()


@hookimpl
def kaohe_cli_commands(cli):
    from plugins.ranking import annual_cli
    from plugins.ranking.cli import register

    register(cli)
    annual_cli.register(cli)


@hookimpl
def kaohe_validate_assessment(section, definition):
    from plugins.ranking.services import validate_section

    return validate_section(section, definition)


@hookimpl
def kaohe_apply_assessment(section, definition):
    from plugins.ranking.services import apply_section

    return apply_section(section, definition)


@hookimpl
def kaohe_demo_data(ctx):
    from plugins.ranking.demo import build

    return build(ctx)


@hookimpl
def kaohe_importers():
    from plugins.ranking.importer import importers

    return importers()
