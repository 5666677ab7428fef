"""Every error code raised in core and the plugins has its text in zh and in en, and the
texts read as the language they are in."""

from __future__ import annotations

import re
import string
from pathlib import Path

from core import i18n
from core.boot import boot

ROOT = Path(__file__).resolve().parents[2]
# `Invalid("code", …)` and the other KaoheError classes, including the plugins' own.
ERROR_CLASSES = ("KaoheError", "Invalid", "Conflict", "NotFound", "Forbidden", "FieldsInvalid",
                 "LoginRefused", "PendingError", "UploadRejected", "NotLoggedIn",
                 "ReportTampered", "TooMany", "BadForm", "ExportRegistryError")
RAISED = re.compile(r"\b(?:" + "|".join(ERROR_CLASSES) + r")\(\s*\"([a-z][a-z0-9_]*)\"")
ENGLISH = re.compile(r"[A-Za-z]{2,}(?: [A-Za-z]{2,}){2,}")


def raised_codes() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in [*ROOT.glob("core/**/*.py"), *ROOT.glob("plugins/**/*.py")]:
        for code in RAISED.findall(path.read_text("utf-8")):
            found.setdefault(code, str(path.relative_to(ROOT)))
    return found


def test_the_scan_finds_the_codes_it_should():
    codes = raised_codes()
    # A few known ones from core and every plugin: a scan that finds nothing proves nothing.
    for code in ("csrf_failed", "appeal_pending", "unknown_org", "group_required",
                 "evidence_type", "survey_closed"):
        assert code in codes
    assert len(codes) > 150


def test_every_error_code_has_zh_and_en_text(tmp_path):
    boot(None)
    missing = {lang: sorted(c for c in raised_codes() if i18n.error_key(c, lang) is None)
               for lang in i18n.LANGUAGES}
    assert missing == {"zh": [], "en": []}
    for code in raised_codes():
        zh = i18n._catalog["zh"][i18n.error_key(code, "zh")]
        en = i18n._catalog["en"][i18n.error_key(code, "en")]
        assert re.search(r"[\u4e00-\u9fff]", zh) and not ENGLISH.search(zh), (code, zh)
        assert zh != en and not re.search(r"[\u4e00-\u9fff]", en), (code, en)
        # Both languages name the same values, so a raiser's params fill either.
        names = {lang: {f for _, f, _, _ in string.Formatter().parse(text) if f}
                 for lang, text in (("zh", zh), ("en", en))}
        assert names["zh"] == names["en"], code


def test_error_text_uses_the_values_and_falls_back_without_them():
    boot(None)
    from core.errors import Conflict

    exc = Conflict("deadline_passed", "requested_deadline: the deadline 2014-12-01 has passed",
                   params={"deadline": "2014-12-01"})
    assert exc.text("zh") == "整改期限 2014-12-01 已过，延期须在期限前申请"
    assert exc.text("en").startswith("The deadline 2014-12-01 has passed")
    bare = Conflict("appeal_pending", "record #3: an appeal is pending; decide it before closing")
    assert bare.text("zh") == "该记录有待处理的申诉，请先对申诉作出决定再结案"
    assert bare.text("en") == bare.message
