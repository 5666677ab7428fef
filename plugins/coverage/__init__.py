"""coverage plugin: 非公企业和社会组织党建覆盖 (party-organization coverage).

Hook implementations only; the work is in the modules they name.
"""

from __future__ import annotations

from pathlib import Path

from core.hookspecs import hookimpl
from core.roles import ADMIN_LEADER, ADMIN_LEADER_OFFICER, ADMIN_ONLY, INSTRUCTOR_ONLY

HERE = Path(__file__).parent


@hookimpl
def kaohe_settings_schema():
    from plugins.coverage.config import CoverageSettings

    return CoverageSettings


@hookimpl
def kaohe_tortoise_app():
    return {"models": ["plugins.coverage.models"], "migrations": "plugins.coverage.migrations"}


@hookimpl
def kaohe_messages():
    from core.contrib import plugin_messages

    return plugin_messages(__file__, "coverage")


@hookimpl
def kaohe_validate_assessment(section, definition):
    from plugins.coverage.config import validate_section

    return validate_section(section)


@hookimpl
def kaohe_apply_assessment(section, definition):
    return None  # read when needed through core.assessments.latest_data()


@hookimpl
def kaohe_template_dirs():
    return [str(HERE / "templates")]


@hookimpl
def kaohe_pages():
    from plugins.coverage.org_routes import PAGES as ORG_PAGES
    from plugins.coverage.page_routes import PAGES

    return PAGES + ORG_PAGES


@hookimpl
def kaohe_api_routes():
    from plugins.coverage.routes import HANDLERS

    return HANDLERS


@hookimpl
def kaohe_nav_items():
    from core.contrib import NavItem

    return [NavItem("coverage.nav.mine", "/coverage/", INSTRUCTOR_ONLY, 10),
            NavItem("coverage.nav.stats", "/coverage/stats", ADMIN_LEADER_OFFICER,
                    20),
            NavItem("coverage.nav.registry", "/coverage/registry", ADMIN_ONLY, 21),
            NavItem("coverage.nav.review", "/coverage/review", ADMIN_ONLY, 22),
            NavItem("coverage.nav.compliance", "/coverage/compliance", ADMIN_LEADER, 23)]


@hookimpl
async def kaohe_dashboard_panels(user):
    from plugins.coverage.panels import panels

    return await panels(user)


@hookimpl
async def kaohe_user_panels(user):
    from plugins.coverage.panels import user_panels

    return await user_panels(user)


@hookimpl
async def kaohe_user_leaves_role(user, role, reason):
    from plugins.coverage.assignments import leaves_role

    return await leaves_role(user, role, reason)


@hookimpl
def kaohe_jobs(settings):
    from plugins.coverage.jobs import jobs

    return jobs(settings)


@hookimpl
def kaohe_exporters():
    from plugins.coverage.exporters import exporters

    return exporters()


@hookimpl
def kaohe_importers():
    from plugins.coverage.importer import importers

    return importers()


@hookimpl
def kaohe_indicator_sources():
    from plugins.coverage.indicators import sources

    return sources()


@hookimpl
def kaohe_cli_commands(cli):
    from plugins.coverage.cli import register

    register(cli)


@hookimpl
async def kaohe_demo_data(ctx):
    from plugins.coverage.demo import build

    return await build(ctx)
