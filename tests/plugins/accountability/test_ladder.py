"""Ladder validation: every bad rule is rejected naming its key path, and nothing is applied."""

import tomllib
from pathlib import Path

import pytest

from core import assessments
from plugins.accountability import ladder
from tests.conftest import login, make_user
from tests.plugins.accountability.helpers import LADDER, apply_definition, definition

ROOT = Path(__file__).resolve().parents[3]


def section(text: str = LADDER) -> dict:
    return tomllib.loads(text)["accountability"]


def test_shipped_and_test_ladders_are_valid():
    shipped = tomllib.loads((ROOT / "assessments" / "guiyang-2014.toml").read_text("utf-8"))
    assert ladder.validate(shipped["accountability"]) == []
    built = ladder.load(shipped["accountability"])
    assert [(r.trigger, r.threshold, r.measure) for r in built.rules] == [
        ("overdue", 1, "remind"), ("overdue", 15, "interview"), ("overdue", 30, "circulate"),
        ("verification_failed", 2, "circulate"), ("bottom_ranking", 2, "interview")]
    assert ladder.validate(section()) == []


def test_rung_is_the_highest_threshold_reached():
    built = ladder.load(section())
    assert built.rung("overdue", 0) is None
    assert built.rung("overdue", 1).measure == "remind"
    assert built.rung("overdue", 14).measure == "remind"
    assert built.rung("overdue", 15).measure == "interview"
    assert built.rung("overdue", 45).measure == "circulate"
    assert built.rung("verification_failed", 1) is None
    assert built.rung("bottom_ranking", 3).target == "head"
    assert ladder.next_measure("circulate") == "admonish"
    assert ladder.next_measure("admonish") == "admonish"  # never automatically to refer


def with_rule(**rule) -> dict:
    data = section()
    data["rules"].append(rule)
    return data


@pytest.mark.parametrize("rule, expected", [
    ({"trigger": "overdue", "threshold": 45, "measure": "shout", "points": 1},
     "accountability.rules[5].measure: 'shout' is not one of remind, interview, circulate, "
     "admonish, refer"),
    ({"trigger": "overdue", "threshold": 60, "measure": "refer", "points": 5},
     "accountability.rules[5].measure: 'refer' may not be automatic"),
    ({"trigger": "overdue", "threshold": 15, "measure": "interview", "points": 1},
     "accountability.rules[5].threshold: 15 overlaps accountability.rules[1]"),
    ({"trigger": "overdue", "threshold": 40, "measure": "remind", "points": 1},
     "accountability.rules[5].measure: 'remind' at threshold 40 is lesser than 'circulate'"),
    ({"trigger": "late", "threshold": 3, "measure": "remind", "points": 1},
     "accountability.rules[5].trigger: 'late' is not one of overdue, verification_failed, "
     "bottom_ranking"),
    ({"trigger": "overdue", "threshold": 0, "measure": "remind", "points": 1},
     "accountability.rules[5].threshold: expected a whole number of at least 1"),
    ({"trigger": "overdue", "threshold": 50, "measure": "admonish"},
     "accountability.rules[5].points: missing"),
    ({"trigger": "overdue", "threshold": 50, "measure": "admonish", "points": -1},
     "accountability.rules[5].points: expected 0–1000"),
    ({"trigger": "overdue", "threshold": 50, "measure": "admonish", "points": 3, "whom": "x"},
     "accountability.rules[5].whom: unknown key"),
    ({"trigger": "overdue", "threshold": 50, "measure": "admonish", "points": 3, "target": "boss"},
     "accountability.rules[5].target: 'boss' is not one of unit, head"),
])
def test_bad_rules_are_named(rule, expected):
    errors = ladder.validate(with_rule(**rule))
    assert any(e.startswith(expected) for e in errors), errors


def test_bad_section_keys():
    data = section()
    data.update(appeal_window_days=0, repeat_within_days="year", colour="red")
    data["points"]["shout"] = 1
    errors = ladder.validate(data)
    assert "accountability.colour: unknown key" in errors
    assert any(e.startswith("accountability.appeal_window_days: must be at least 1") for e in errors)
    assert any(e.startswith("accountability.repeat_within_days: expected a whole number") for e in errors)
    assert any(e.startswith("accountability.points.shout: 'shout' is not one of") for e in errors)
    assert ladder.validate({"rules": {"a": 1}}) == [
        "accountability.rules: expected an array of tables [[accountability.rules]]"]


async def test_bad_ladder_is_rejected_when_applied_and_changes_nothing(db, host):
    bad = LADDER + """
[[accountability.rules]]
trigger = "overdue"
threshold = 60
measure = "shout"
points = 4
"""
    with pytest.raises(assessments.DefinitionError) as caught:
        await apply_definition(host, definition(bad))
    assert ("accountability.rules[5].measure: 'shout' is not one of remind, interview, circulate, "
            "admonish, refer") in caught.value.errors
    assert await assessments.AssessmentDefinition.all().count() == 0
    row, changed = await apply_definition(host)
    assert changed and row.data["accountability"]["rules"][0]["measure"] == "remind"


async def test_bad_ladder_through_the_api(client):
    await make_user("adm", "admin")
    csrf = await login(client, "adm")
    bad = LADDER.replace('threshold = 30\nmeasure = "circulate"', 'threshold = 15\nmeasure = "circulate"')
    r = await client.post("/api/assessments/apply", json={"text": definition(bad)},
                          headers={"X-CSRF-Token": csrf})
    assert r.status_code == 422, r.text
    details = r.json()["error"]["details"]
    assert any(d.startswith("accountability.rules[2].threshold: 15 overlaps accountability.rules[1]")
               for d in details), details
    r = await client.get("/api/accountability/ladder")
    assert r.json()["rules"] == []
