"""coverage plugin: 非公企业和社会组织党建覆盖 (party-organization coverage).

Hook implementations only; the work is in the modules they name.
"""

from __future__ import annotations

from pathlib import Path

from core.hookspecs import hookimpl

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
    from plugins.coverage.locale import MESSAGES

    return MESSAGES


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
    from plugins.coverage.pages import PAGES

    return PAGES + ORG_PAGES


@hookimpl
def kaohe_api_routes():
    from plugins.coverage.routes import HANDLERS

    return HANDLERS


@hookimpl
def kaohe_nav_items():
    from plugins.coverage.pages import NAV

    return NAV


@hookimpl
async def kaohe_dashboard_panels(user):
    from plugins.coverage.pages import dashboard_panels

    return await dashboard_panels(user)


@hookimpl
async def kaohe_user_panels(user):
    from plugins.coverage.assignments import user_panels

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
    from plugins.coverage.exporters import EXPORTERS

    return EXPORTERS


@hookimpl
def kaohe_importers():
    from core.contrib import Importer, ImportField
    from plugins.coverage import intake, services

    async def blank_registry(ctx=None):
        return await services.registry_template_bytes(getattr(ctx, "lang", "zh"), blank=True)

    return [
        Importer(intake.REPORTS, "coverage.page.import_reports", intake.importer_preview_reports,
                 intake.importer_confirm_reports, intake.importer_template_reports,
                 roles=("admin", "instructor"), allow_errors=True,
                 fields=(ImportField("period", "common.period", kind="choice", required=True,
                                     choices=intake.report_periods),),
                 back=intake.reports_back, done=intake.importer_done,
                 template_filename="coverage-reports.xlsx"),
        Importer(intake.REGISTRY, "coverage.page.import_title", intake.importer_preview_registry,
                 intake.importer_confirm_registry, blank_registry, allow_errors=True,
                 fields=(ImportField("full", "coverage.page.full_import", kind="bool"),),
                 back="/coverage/registry", done=intake.importer_done,
                 template_filename="coverage-registry.xlsx",
                 formats=("xlsx", "xls", "xlsb", "ods", "csv")),
    ]


@hookimpl
def kaohe_indicator_sources():
    from plugins.coverage.indicators import SOURCES

    return SOURCES


@hookimpl
def kaohe_cli_commands(cli):
    from plugins.coverage.cli import register

    register(cli)


@hookimpl
async def kaohe_demo_data(ctx):
    from plugins.coverage.demo import build

    return await build(ctx)
