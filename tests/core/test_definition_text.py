"""Every kind of refusal the definition validators (core and the plugins') write is told in the
catalog: in zh no English sentence is left, and each kind has its zh and en text."""

from __future__ import annotations

from core import i18n
from core.definition_text import KINDS, explain
from tests.core.test_page_words import ENGLISH


def refusals() -> list[str]:
    """Broken sections for each validator, wrong in as many ways as it checks."""
    from core.documents import validate as docs
    from plugins.accountability.ladder import validate as acc
    from plugins.coverage.config import validate_section as cov
    from plugins.ranking.services import validate_section as rank
    from plugins.rectification.config import validate as rect
    from plugins.satisfaction.config import validate as sat

    defn = {"units": [{"code": "520100", "level": "city"}], "periods": [{"code": "2014"}]}
    errs = []
    errs += docs({"x": 1, "office": 3, "copy_to": 3, "number_pattern": "{foo}"})
    errs += docs({"number_pattern": "{code}"}) + docs(3)
    errs += acc({"x": 1, "appeal_window_days": 0, "points": 3, "rules": [3, {"x": 1}, {"trigger": "zz", "threshold": 0, "measure": "qq", "target": "t"}]})
    errs += acc({"points": {"zz": 1}, "rules": 5})
    errs += cov({"report_period_kind": "zz", "remind_working_days": 99, "should_establish_min_formal": 0, "zz": 1})
    errs += rect({"x": 1, "sources": [], "categories": [{"code": 1}, {"code": "a"}, {"code": "a"}], "deadline_days": {"zz": {"qq": 1}, "urgent": 0}, "max_extensions": -1, "overdue_thresholds": [3, 1]})
    errs += sat({"min_seconds": 9999, "exclude": ["zz"], "surveys": [{"key": "a b", "title": "t", "period": "zz", "opens": "2014-02-01", "closes": "2014-01-01", "quota": -1, "rule": "q", "units": {"level": "zz"}, "previous": "no", "index": "nope", "questions": [{"key": "a b", "kind": "zz", "text": ""}]}]}, defn)
    errs += sat({"surveys": [{"key": "b", "title": "t", "period": "2015", "opens": "2014-01-01", "closes": "2014-02-01", "units": {"codes": ["9"]}, "index": "q", "questions": [{"key": "q", "kind": "text", "text": "x", "complaint": True}, {"key": "r", "kind": "satisfaction", "text": "x", "labels": ["a"]}], "points": {"9": 1}}]}, defn)
    errs += rank({"missing": "zz", "top_n": -1, "subscriptions": 3, "groups": [{"key": "A", "level": "zz", "within": "9"}], "aspects": [{"key": "a", "weight": 0, "indicators": [{"key": "B", "direction": "x", "weight": 0, "method": "ratio", "source": "zz"}, {"key": "c", "name": "c", "weight": 50, "method": "bands", "direction": "higher"}, {"key": "d", "name": "d", "weight": 50, "method": "deduct", "direction": "higher", "points": 0, "max_deduction": 200, "range": [3, 1], "core": 3}]}]}, defn)
    errs += rank({"groups": [], "aspects": []}, defn)
    errs += rank({"groups": [{"key": "g", "name": "g", "level": "city"}], "aspects": [{"key": "a", "name": "a", "weight": 100, "indicators": [{"key": "c", "name": "c", "weight": 100, "method": "bands", "direction": "higher", "bands": [{"threshold": "x", "score": 200}, 3, {"threshold": 1, "score": 1}, {"threshold": 1, "score": 2}]}]}],
                 "annual": {"year": "2099", "objection_days": -1, "quota_rounding": "zz", "tie_break": ["zz"], "tie_final": "zz", "objection_how": 3, "components": [{"key": "K", "weight": 0}, {"key": "k2", "name": "x", "weight": 10, "periods": ["2099"], "panel": "p"}], "grades": [{"key": "a", "name": "a", "min": "x", "quota": 200}], "adjustments": [{"key": "b", "name": "b", "kind": "zz", "cap": 0, "source": "plugin:zz"}]}}, defn)
    return errs


def test_every_validators_refusal_reads_in_chinese(host):
    errs = refusals()
    assert len(errs) > 90
    english = [e for e in errs if ENGLISH.findall(explain(e, "zh")[1])]
    assert not english, english
    # The place in the file stays as written, in either language.
    assert all(explain(e, "en")[0] == explain(e, "zh")[0] for e in errs)


def test_every_kind_has_zh_and_en_text(host):
    for _, key in KINDS:
        for lang in ("zh", "en"):
            assert i18n.t(f"definition.{key}", lang) != f"definition.{key}", (key, lang)
