"""The [coverage] section of settings.toml and of an assessment definition."""

from pathlib import Path

import pytest

from core import assessments
from core.boot import boot
from core.settings import SettingsError
from plugins.coverage.config import CoverageDefinition, definition, validate_section
from tests.conftest import write_settings

ROOT = Path(__file__).resolve().parents[3]


def test_definition_errors_name_the_key_path():
    assert validate_section({}) == []
    assert validate_section({"report_period_kind": "week"}) == [
        "coverage.report_period_kind: 'week' is not one of year, half, quarter, month"]
    assert validate_section({"remind_working_days": 99}) == [
        "coverage.remind_working_days: expected 0 to 60 working days"]
    [err] = validate_section({"remind_working_days": "five"})
    assert err.startswith("coverage.remind_working_days: Expected `int`")
    [err] = validate_section({"reminder": 3})
    assert err.startswith("coverage") and "unknown key" in err and "reminder" in err


def test_settings_section_is_validated(tmp_path):
    bad = write_settings(tmp_path, "sqlite://:memory:", "[coverage]\nupload_ttl_minutes = \"soon\"\n")
    with pytest.raises(SettingsError) as e:
        boot(str(bad))
    assert "coverage.upload_ttl_minutes" in str(e.value)


async def test_the_guiyang_definition_sets_the_reporting_rules(db, host):
    text = (ROOT / "assessments" / "guiyang-2014.toml").read_text(encoding="utf-8")
    await assessments.apply(text, host, applied_by="test")
    assert await definition() == CoverageDefinition("quarter", 5, 3)
    broken = text.replace('report_period_kind = "quarter"', 'report_period_kind = "fortnight"')
    with pytest.raises(assessments.DefinitionError) as e:
        assessments.parse(broken, host)
    assert any(err.startswith("coverage.report_period_kind") for err in e.value.errors)
