"""Scoring methods against hand-computed values, rounding half up, ties, flags, missing values."""

from decimal import Decimal as D

import pytest

from plugins.ranking.scheme import Aspect, Group, Indicator, Scheme, parse
from plugins.ranking.scoring import compute, indicator_score, input_hash, num


def ind(method, direction="higher", **kw):
    base = dict(key="x", name="x", aspect="a", unit="", direction=direction, source="manual",
                method=method, weight=D(100))
    base.update(kw)
    return Indicator(**base)


@pytest.mark.parametrize("value,expected", [
    ("84", "100.00"),      # 105 % of the target: capped at full marks
    ("72", "90.00"),
    ("80", "100.00"),
    ("33.3", "41.63"),     # 41.625 rounds half up
    ("0", "0.00"),
    ("-5", "0.00"),        # a negative rate scores nothing, never below zero
])
def test_ratio_higher_is_better(value, expected):
    assert indicator_score(ind("ratio", target=D(80)), D(value)) == D(expected)


@pytest.mark.parametrize("value,expected", [
    ("4", "100.00"),       # under the target: full marks
    ("5", "100.00"),
    ("10", "50.00"),       # target / value
    ("6", "83.33"),
    ("0", "100.00"),
])
def test_ratio_lower_is_better_uses_target_over_value(value, expected):
    assert indicator_score(ind("ratio", "lower", target=D(5)), D(value)) == D(expected)


def test_minmax_across_peers_both_directions():
    hi = ind("minmax")
    lo = ind("minmax", "lower")
    assert indicator_score(hi, D(30), D(10), D(50)) == D("50.00")
    assert indicator_score(hi, D(50), D(10), D(50)) == D("100.00")
    assert indicator_score(hi, D(10), D(10), D(50)) == D("0.00")
    assert indicator_score(lo, D(20), D(10), D(50)) == D("75.00")
    assert indicator_score(lo, D(10), D(10), D(50)) == D("100.00")
    assert indicator_score(hi, D(7), D(7), D(7)) == D("100.00")  # all equal: nobody behind


def test_bands_take_the_first_band_reached():
    scheme = parse(_section(method="bands", bands=[{"threshold": 80, "score": 80},
                                                   {"threshold": 90, "score": 100},
                                                   {"threshold": 0, "score": 60}]))
    hi = scheme.by_key["x"]
    assert [t for t, _ in hi.bands] == [D(90), D(80), D(0)]  # best first, whatever the order
    assert indicator_score(hi, D(92)) == D("100.00")
    assert indicator_score(hi, D(90)) == D("100.00")
    assert indicator_score(hi, D("89.99")) == D("80.00")
    assert indicator_score(hi, D("79.5")) == D("60.00")
    assert indicator_score(hi, D(-1)) == D("0.00")  # below every band
    lower = parse(_section(method="bands", direction="lower",
                           bands=[{"threshold": 5, "score": 80}, {"threshold": 2, "score": 100}]))
    lo = lower.by_key["x"]
    assert indicator_score(lo, D(1)) == D("100.00")
    assert indicator_score(lo, D(2)) == D("100.00")
    assert indicator_score(lo, D(3)) == D("80.00")
    assert indicator_score(lo, D(6)) == D("0.00")


def test_deduct_points_per_occurrence():
    d = ind("deduct", "lower", points=D(2))
    assert indicator_score(d, D(0)) == D("100.00")
    assert indicator_score(d, D(3)) == D("94.00")
    assert indicator_score(d, D("2.5")) == D("95.00")
    assert indicator_score(d, D(60)) == D("0.00")  # never below zero
    capped = ind("deduct", "lower", points=D(2), max_deduction=D(30))
    assert indicator_score(capped, D(20)) == D("70.00")


def test_rounding_is_half_up_not_bankers():
    # Float rounding gets this wrong (2.675 is 2.67499999… as a float); the office expects 2.68.
    assert round(2.675, 2) == 2.67
    assert indicator_score(ind("ratio", target=D(100)), D("2.675")) == D("2.68")
    assert indicator_score(ind("ratio", target=D(100)), D("2.665")) == D("2.67")
    assert indicator_score(ind("ratio", target=D(100)), D("0.005")) == D("0.01")


def _scheme(missing="zero", top=1, bottom=1):
    a = ind("ratio", target=D(100), key="a1", aspect="a", weight=D(50))
    b = ind("minmax", key="a2", aspect="a", weight=D(50))
    return Scheme((Aspect("a", "A", D(100), (a, b)),), (Group("g", "G", "district"),),
                  missing=missing, top_n=top, bottom_n=bottom)


def test_aspect_and_total_round_half_up_at_each_level():
    a = ind("ratio", target=D(100), key="a1", aspect="a", weight=D(50))
    b = ind("ratio", target=D(100), key="b1", aspect="b", weight=D(100))
    scheme = Scheme((Aspect("a", "A", D("33.3"), (a, ind("ratio", target=D(100), key="a2",
                                                        aspect="a", weight=D(50)))),
                     Aspect("b", "B", D("66.7"), (b,))), (Group("g", "G", "district"),))
    [res] = compute(scheme, [("u", "U")], {"u": {"a1": D("2.675"), "a2": D("2.68"),
                                                 "b1": D("10.005")}})
    assert res.scores == {"a1": D("2.68"), "a2": D("2.68"), "b1": D("10.01")}
    assert res.aspects == {"a": D("2.68"), "b": D("10.01")}
    # 2.68 × 33.3 % + 10.01 × 66.7 % = 0.89244 + 6.67667 = 7.56911 → 7.57
    assert res.total == D("7.57")


def test_ties_share_a_place_and_the_next_is_skipped():
    scheme = _scheme(top=1, bottom=1)
    units = [("u1", "1"), ("u2", "2"), ("u3", "3"), ("u4", "4")]
    # a2 is min–max: equal a2 everywhere gives 100, so the totals follow a1.
    values = {"u1": {"a1": D(90), "a2": D(1)}, "u2": {"a1": D(80), "a2": D(1)},
              "u3": {"a1": D(80), "a2": D(1)}, "u4": {"a1": D(70), "a2": D(1)}}
    res = compute(scheme, units, values)
    assert [(r.code, r.rank) for r in res] == [("u1", 1), ("u2", 2), ("u3", 2), ("u4", 4)]
    assert [r.total for r in res] == [D("95.00"), D("90.00"), D("90.00"), D("85.00")]
    assert [r.flag for r in res] == ["top", "", "", "bottom"]


def test_units_tied_for_last_are_all_bottom_and_tied_first_all_top():
    scheme = _scheme(top=1, bottom=1)
    values = {"u1": {"a1": D(90), "a2": D(1)}, "u2": {"a1": D(90), "a2": D(1)},
              "u3": {"a1": D(70), "a2": D(1)}, "u4": {"a1": D(70), "a2": D(1)},
              "u5": {"a1": D(80), "a2": D(1)}}
    res = compute(scheme, [(c, c) for c in values], values)
    assert {r.code: (r.rank, r.flag) for r in res} == {
        "u1": (1, "top"), "u2": (1, "top"), "u5": (3, ""), "u3": (4, "bottom"),
        "u4": (4, "bottom")}


def test_missing_value_scores_zero_under_policy_zero():
    scheme = _scheme("zero")
    values = {"u1": {"a1": D(90), "a2": D(10)}, "u2": {"a1": None, "a2": D(20)},
              "u3": {"a2": D(30)}}
    res = {r.code: r for r in compute(scheme, [("u1", ""), ("u2", ""), ("u3", "")], values)}
    assert res["u2"].scores["a1"] == D("0.00") and res["u2"].missing == ["a1"]
    assert res["u3"].missing == ["a1"]
    # u2: a1 0, a2 (20-10)/(30-10) = 50 → 25.00; u1: 90, 0 → 45.00; u3: 0, 100 → 50.00
    assert (res["u1"].total, res["u2"].total, res["u3"].total) == (D("45.00"), D("25.00"),
                                                                    D("50.00"))
    assert not any(r.excluded for r in res.values())
    assert [res[c].rank for c in ("u3", "u1", "u2")] == [1, 2, 3]


def test_missing_value_excludes_the_unit_under_policy_exclude():
    scheme = _scheme("exclude")
    values = {"u1": {"a1": D(90), "a2": D(10)}, "u2": {"a1": None, "a2": D(40)},
              "u3": {"a1": D(50), "a2": D(30)}}
    res = compute(scheme, [("u1", ""), ("u2", ""), ("u3", "")], values)
    by = {r.code: r for r in res}
    assert by["u2"].excluded and by["u2"].rank is None and by["u2"].total is None
    assert res[-1].code == "u2"  # unranked units come last
    # The excluded unit's 40 does not stretch the min–max range: u3's 30 is the best.
    assert by["u3"].scores["a2"] == D("100.00") and by["u1"].scores["a2"] == D("0.00")
    # u3: (50 + 100) / 2 = 75.00; u1: (90 + 0) / 2 = 45.00
    assert (by["u3"].rank, by["u3"].total) == (1, D("75.00"))
    assert (by["u1"].rank, by["u1"].total) == (2, D("45.00"))


def test_change_against_previous_period():
    scheme = _scheme()
    values = {"u1": {"a1": D(90), "a2": D(1)}, "u2": {"a1": D(80), "a2": D(1)}}
    res = compute(scheme, [("u1", ""), ("u2", ""), ("u3", "")],
                  {**values, "u3": {"a1": D(85), "a2": D(1)}},
                  previous={"u1": (3, D("70.00")), "u2": (1, D("95.50"))})
    by = {r.code: r for r in res}
    assert by["u1"].rank_change == 2 and by["u1"].total_change == D("25.00")
    assert by["u2"].rank_change == -2 and by["u2"].total_change == D("-5.50")
    assert by["u3"].rank_change is None  # new in this ranking


def test_input_hash_is_canonical():
    h = input_hash("2014", "520102", "sat", D("83.8700"), "manual")
    assert h == input_hash("2014", "520102", "sat", D("83.87"), "manual")
    assert h != input_hash("2014", "520102", "sat", D("83.88"), "manual")
    assert h != input_hash("2014", "520102", "sat", D("83.87"), "import")
    assert input_hash("2014", "u", "k", None, "manual") != input_hash("2014", "u", "k", D(0),
                                                                      "manual")
    assert num(D("100.0000")) == "100" and num(D("-0.00")) == "0"


def _section(method="ratio", direction="higher", **kw):
    indicator = {"key": "x", "name": "x", "direction": direction, "source": "manual",
                 "method": method, "weight": 100, **kw}
    return {"groups": [{"key": "g", "name": "G", "level": "district"}],
            "aspects": [{"key": "a", "name": "A", "weight": 100, "indicators": [indicator]}]}


def test_batch_input_hashes_equal_the_reference_hash():
    from plugins.ranking.scoring import input_hashes

    values = {"520102": {"sat": D("83.8700"), "sec": None}, 'u"1\\': {"sat": D("-0.5")}}
    got = input_hashes("2014H1", list(values), [("sat", "manual"), ("sec", "plugin:c.r"),
                                                ("中文", "import")], values)
    for unit, row in got.items():
        for key, item in row.items():
            source = {"sat": "manual", "sec": "plugin:c.r", "中文": "import"}[key]
            value = values[unit].get(key)
            assert item == {"v": num(value), "s": source,
                            "h": input_hash("2014H1", unit, key, value, source)}
