"""The ranking's one import: indicator values of a period and group from a workbook
(reading and saving are in values_io), run by the platform's import flow."""

from __future__ import annotations

from core.contrib import Importer, ImportField
from core.roles import ADMIN_ONLY
from plugins.ranking import values_io


def importers() -> list[Importer]:
    return [Importer(
        values_io.IMPORTER, "ranking.upload_title", values_io.importer_preview,
        values_io.importer_confirm, values_io.importer_template, roles=ADMIN_ONLY,
        fields=(ImportField("period", "common.period", kind="choice", required=True,
                            choices=values_io.period_choices),
                ImportField("group", "ranking.group", kind="choice", required=True,
                            choices=values_io.group_choices)),
        back=values_io.importer_back, done=values_io.importer_done,
        template_filename="ranking_values.xlsx")]
