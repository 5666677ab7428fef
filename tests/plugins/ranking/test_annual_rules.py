"""The year's rules by hand: components, caps, bands, vetoes, rules, quotas, ties, panels."""

from decimal import Decimal as D

import pytest

from plugins.ranking import annual_rules as r
from plugins.ranking.annual_scheme import parse, validate

BASE = {
    "year": "2014",
    "components": [{"key": "regular", "name": "平时考核", "periods": ["Q1", "Q2"], "weight": 40},
                   {"key": "year_end", "name": "年终考核", "periods": ["Y"], "weight": 50},
                   {"key": "panel", "name": "民主测评", "panel": "p", "weight": 10}],
    "panels": [{"key": "p", "name": "测评", "scale": [0, 100], "trim": 1, "min_raters": 3}],
    "adjustments": [{"key": "inno", "name": "创新", "kind": "bonus", "cap": 3},
                    {"key": "hon", "name": "表彰", "kind": "bonus", "cap": 3},
                    {"key": "inc", "name": "事件", "kind": "deduction", "cap": 4}],
    "bonus_cap": 5, "deduction_cap": 10,
    "vetoes": [{"key": "referred", "name": "移送", "source": "plugin:x.refer"}],
    "rules": [{"key": "criticized", "name": "通报批评", "source": "plugin:x.circ",
               "max_grade": "good"},
              {"key": "bottom_twice", "name": "两次末位", "bottom_count": 2, "max_grade": "fair"}],
    "grades": [{"key": "excellent", "name": "优秀", "min": 90, "quota": 30},
               {"key": "good", "name": "良好", "min": 80},
               {"key": "fair", "name": "一般", "min": 60},
               {"key": "poor", "name": "较差"}],
    "tie_break": ["component:year_end"], "tie_final": "demote",
}


def scheme(**over):
    return parse({**BASE, **over})


def unit(q1, q2, y, panel=None, n=0, **extra):
    out = {"period:Q1": D(q1), "period:Q2": D(q2), "period:Y": D(y),
           "panel:p": D(panel) if panel is not None else None, "panel_n:p": D(n)}
    out.update({k: D(v) for k, v in extra.items()})
    return out


def test_components_weights_and_half_up():
    a = scheme()
    # regular = (85.25 + 86.50) / 2 = 85.875 → 85.88; panel = 90 with 3 raters;
    # base = (85.88×40 + 88.01×50 + 90×10) / 100 = 34.352 + 44.005 + 9 = 87.357 → 87.36
    res = r.combine(a, "u", "U", unit("85.25", "86.50", "88.01", 90, 3))
    assert res.components == {"regular": D("85.88"), "year_end": D("88.01"), "panel": D("90")}
    assert res.base == D("87.36") and res.score == D("87.36")


def test_panel_below_minimum_is_not_used_and_weights_rescale():
    a = scheme()
    # 2 raters < 3: panel left out; (80×40 + 90×50) / 90 = 85.555… → 85.56
    res = r.combine(a, "u", "U", unit(80, 80, 90, 99, 2))
    assert res.components["panel"] is None and res.score == D("85.56")
    assert {"code": "panel_not_used", "component": "panel", "raters": 2, "min": 3} in res.notes


def test_bonus_and_deduction_caps():
    a = scheme()
    # innovation 4 → capped at 3; honours 2.5; bonus 5.5 → overall cap 5; incidents 6 → cap 4.
    res = r.combine(a, "u", "U", unit(80, 80, 80, 80, 3, **{"adjust:inno": 4, "adjust:hon": "2.5",
                                                          "adjust:inc": 6}))
    assert (res.bonus, res.deduction, res.score) == (D(5), D(4), D("81.00"))
    codes = [n["code"] for n in res.notes]
    assert codes == ["item_capped", "item_capped", "bonus_capped"]


def test_trimmed_mean_and_minimum_count():
    # 60 and 98 dropped: (70 + 80 + 81) / 3 = 77
    assert r.trimmed_mean([D(80), D(60), D(98), D(70), D(81)], 1, 5) == D("77.00")
    assert r.trimmed_mean([D(80), D(60), D(98), D(70)], 1, 5) is None
    # (85 + 86 + 86) / 3 = 85.666… → 85.67 half up
    assert r.trimmed_mean([D(85), D(86), D(86), D(10), D(99)], 1, 3) == D("85.67")


@pytest.mark.parametrize("rounding,places", [("floor", 2), ("half_up", 3), ("ceil", 3)])
def test_quota_rounding_is_the_stated_one(rounding, places):
    # 30 % of 8 = 2.4 → floor 2, half up 2; 30 % of 9 = 2.7 → 2 / 3 / 3
    assert r.quota_places(9, D(30), rounding) == places
    assert r.quota_places(8, D(30), "half_up") == 2 and r.quota_places(5, D(30), "half_up") == 2


def grades(a, values, facts=None):
    units = [(c, c) for c in values]
    inputs = {c: {**v, **(facts or {}).get(c, {})} for c, v in values.items()}
    return {x.code: (x.grade, x.rule) for x in r.compute(a, units, inputs)}


def test_bands_veto_rule_and_quota():
    a = scheme()
    values = {c: unit(s, s, s, s, 3) for c, s in
              [("a", 95), ("b", 93), ("c", 91), ("d", 85), ("e", 70), ("f", 50), ("g", 92),
               ("h", 94), ("i", 96), ("j", 40)]}
    facts = {"g": {"veto:referred": D(1)}, "h": {"rule:criticized": D(1)},
             "e": {"rule:bottom_twice": D(2)}, "d": {"rule:bottom_twice": D(1)}}
    got = grades(a, values, facts)
    # 10 units, 优秀 30 % → 3 places. Candidates by band: i 96, a 95, b 93, c 91
    # (g 92 vetoed to 较差, h 94 capped at 良好 by the 通报批评 rule) → c goes down by quota.
    assert got == {"i": ("excellent", "band"), "a": ("excellent", "band"),
                   "b": ("excellent", "band"), "c": ("good", "quota"),
                   "h": ("good", "rule:criticized"), "g": ("poor", "veto:referred"),
                   "d": ("good", "band"), "e": ("fair", "band"), "f": ("poor", "band"),
                   "j": ("poor", "band")}
    # bottom twice caps a 良好 unit at 一般
    got = grades(a, {"x": unit(85, 85, 85, 85, 3)}, {"x": {"rule:bottom_twice": D(2)}})
    assert got == {"x": ("fair", "rule:bottom_twice")}


def test_tie_at_boundary_decided_by_the_named_rule():
    a = scheme()
    # 7 units, 30 % → 2 places: a (95.00) and one of b, c, tied at 92.00 for the last place.
    # b = (95×40 + 89×50 + 95×10) / 100 = 38 + 44.5 + 9.5 = 92.00, 年终考核 89
    # c = (90×40 + 94×50 + 90×10) / 100 = 36 + 47 + 9 = 92.00, 年终考核 94 → c wins the tie
    values = {"a": unit(95, 95, 95, 95, 3), "b": unit(95, 95, 89, 95, 3),
              "c": unit(90, 90, 94, 90, 3), **{k: unit(70, 70, 70, 70, 3) for k in "defg"}}
    res = {x.code: x for x in r.compute(a, [(c, c) for c in values], values)}
    assert res["b"].score == res["c"].score == D("92.00")
    assert (res["c"].grade, res["c"].rule) == ("excellent", "tie:component:year_end")
    assert (res["b"].grade, res["b"].rule) == ("good", "tie:component:year_end")
    assert (res["a"].grade, res["a"].rule) == ("excellent", "band")
    note = next(n for n in res["b"].notes if n["code"] == "quota")
    assert note == {"code": "quota", "grade": "excellent", "units": 7, "quota": "30",
                    "places": 2, "rounding": "floor", "tie": ["component:year_end"]}


def test_tie_level_on_every_rule_uses_the_final_rule():
    values = {"a": unit(95, 95, 95, 95, 3), "b": unit(92, 92, 92, 92, 3),
              "c": unit(92, 92, 92, 92, 3), **{k: unit(70, 70, 70, 70, 3) for k in "defg"}}
    demote = {x.code: (x.grade, x.rule) for x in r.compute(scheme(), [(c, c) for c in values],
                                                           values)}
    assert demote["b"] == demote["c"] == ("good", "tie:demote")
    admit = {x.code: (x.grade, x.rule) for x in r.compute(
        scheme(tie_final="admit"), [(c, c) for c in values], values)}
    assert admit["b"] == admit["c"] == ("excellent", "tie:admit")  # 3 优秀 over a quota of 2


def test_ranks_share_places():
    values = {"a": unit(90, 90, 90, 90, 3), "b": unit(90, 90, 90, 90, 3),
              "c": unit(80, 80, 80, 80, 3)}
    assert [(x.code, x.rank) for x in r.compute(scheme(), [(c, c) for c in values], values)] == \
        [("a", 1), ("b", 1), ("c", 3)]


@pytest.mark.parametrize("change,expected", [
    ({"components": [{**BASE["components"][0], "weight": 50}, *BASE["components"][1:]]},
     "ranking.annual.components: component weights add up to 110, not 100"),
    ({"grades": [{**BASE["grades"][0], "quota": 120}, *BASE["grades"][1:]]},
     "ranking.annual.grades[0].quota: 120 is outside 0–100 %"),
    ({"grades": [{**BASE["grades"][0], "quota": -1}, *BASE["grades"][1:]]},
     "ranking.annual.grades[0].quota: -1 is outside 0–100 %"),
    ({"vetoes": [{"key": "v", "name": "否决", "source": "no_such"}]},
     "ranking.annual.vetoes[0].source: unknown indicator 'no_such' (not in the scheme)"),
    ({"vetoes": [{"key": "v", "name": "否决", "source": "plugin:nobody.x"}]},
     "ranking.annual.vetoes[0].source: no loaded plugin provides 'nobody.x'"),
    ({"rules": [{"key": "x", "name": "规则", "bottom_count": 2, "max_grade": "best"}]},
     "ranking.annual.rules[0].max_grade: 'best' is not a grade key"),
    ({"quota_rounding": "bankers"},
     "ranking.annual.quota_rounding: 'bankers' is not one of floor, half_up, ceil"),
    ({"tie_break": ["component:nope"]},
     "ranking.annual.tie_break[0]: 'component:nope' is not component:KEY of a component, "
     "panel or bonus"),
    ({"panels": [{"key": "p", "name": "测评", "trim": 2, "min_raters": 3}]},
     "ranking.annual.panels[0].min_raters: expected a whole number ≥ 5 (more than the 4 "
     "dropped)"),
])
def test_bad_sections_name_the_key(change, expected):
    import tomllib

    from plugins.ranking.scheme import parse as parse_scheme
    from tests.plugins.ranking.helpers import RANKING

    ranking = parse_scheme(tomllib.loads(RANKING.format(missing="zero", objection_days=0)
                                         .replace("{{", "{").replace("}}", "}"))["ranking"],
                           {"stub.rate"})
    errors = validate({**BASE, **change}, ranking, {"2014", "Q1", "Q2", "Y"}, {"x.refer", "x.circ"})
    assert expected in errors, errors
