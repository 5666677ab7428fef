"""The coverage plugin's two workbook imports, run by the platform's import flow: the
instructors' reports for a period, and the organization registry."""

from __future__ import annotations

from typing import Any

from core.contrib import Importer, ImportField
from core.roles import ADMIN_INSTRUCTOR
from plugins.coverage import intake, services


async def blank_registry(ctx: Any = None) -> bytes:
    return await services.registry_template_bytes(getattr(ctx, "lang", "zh"), blank=True)


def importers() -> list[Importer]:
    return [
        Importer(intake.REPORTS, "coverage.page.import_reports", intake.importer_preview_reports,
                 intake.importer_confirm_reports, intake.importer_template_reports,
                 roles=ADMIN_INSTRUCTOR, allow_errors=True,
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
