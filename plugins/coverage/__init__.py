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
