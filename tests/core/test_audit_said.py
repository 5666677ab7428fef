"""Reasons the platform writes into the audit trail are stored as catalog keys and read in
each reader's language; a person's reason is kept and shown as typed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core import audit, i18n
from tests.conftest import login, make_user

ROOT = Path(__file__).resolve().parents[2]
LITERAL = re.compile(r'audit\.said\(\s*"([\w.]+)"')
# Keys built from a value: each family with every value the code passes.
FAMILIES = {
    "coverage.said.user_{}": ("disabled", "role_changed"),  # core.user_admin.leave_role
    "accountability.said.appeal_{}": ("upheld", "reduced", "withdrawn"),  # appeals.DECISIONS
    "ranking.said.values.{}": ("api", "grid", "upload", "self", "reviewed", "demo"),
}


def _keys() -> set[str]:
    found = set()
    for path in [*ROOT.glob("core/**/*.py"), *ROOT.glob("plugins/**/*.py")]:
        found |= set(LITERAL.findall(path.read_text(encoding="utf-8")))
    return found | {family.format(v) for family, values in FAMILIES.items() for v in values}


def test_every_system_reason_has_zh_and_en_words(host):
    keys = _keys()
    assert len(keys) >= 15
    for key in sorted(keys):
        for lang in ("zh", "en"):
            assert i18n._catalog[lang].get(key), f"{key} has no {lang} text"


def test_the_families_name_what_the_code_passes():
    from plugins.accountability.appeals import DECISIONS

    assert set(DECISIONS.values()) == set(FAMILIES["accountability.said.appeal_{}"])
    origins = set(re.findall(r'origin="(\w+)"', "".join(
        p.read_text(encoding="utf-8") for p in ROOT.glob("plugins/ranking/*.py")
        if "subscription" not in p.name)))
    assert origins == set(FAMILIES["ranking.said.values.{}"])
    leaving = set(re.findall(r'leave_role\([^)]*"(\w+)"\)', (ROOT / "core/user_admin.py").read_text()))
    assert leaving == set(FAMILIES["coverage.said.user_{}"])


def test_reason_text_reads_a_said_reason_and_leaves_a_persons_alone(host):
    stored = audit.said("coverage.said.reassigned_from", user="zhang")
    assert audit.reason_text(stored, "zh") == "由 zhang 转派"
    assert audit.reason_text(stored, "en") == "reassigned from zhang"
    assert audit.reason_text("核实后更正", "en") == "核实后更正"
    assert audit.reason_text("i18n:coverage.said.report {not json", "zh").startswith("i18n:")


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_the_audit_page_and_workbook_show_it_in_the_readers_words(client, lang):
    import io

    from python_calamine import CalamineWorkbook

    await audit.record("test.scan", "thing", "1", before={"overdue_level": 0},
                       after={"overdue_level": 15, "n": 1},
                       reason=audit.said("rectification.said.daily_scan"))
    await make_user("boss", "admin")
    await login(client, "boss")
    client.cookies.set("lang", lang)
    want = "每日超期排查" if lang == "zh" else "daily overdue scan"
    page = (await client.get("/audit")).text
    assert want in page and "i18n:" not in page
    book = await client.get("/audit/export.xlsx")
    rows = CalamineWorkbook.from_filelike(io.BytesIO(book.content)).get_sheet_by_index(0).to_python()
    assert any(want in str(c) for r in rows for c in r)
    # The changes column names a field as the page does, by its label, not its stored key.
    label = i18n.t("audit.field.overdue_level", lang)
    assert label != "audit.field.overdue_level"
    changes = [str(c) for r in rows for c in r if "→" in str(c)]
    assert changes and all(f"{label}: 0 → 15" in c and "overdue_level" not in c for c in changes)
