"""The [satisfaction] section: errors name their key path; applying is idempotent."""

from __future__ import annotations

import pytest

from core import assessments
from core.orgs import OrgUnit
from plugins.satisfaction.models import Response, Survey
from tests.plugins.satisfaction.helpers import DEFINITION


def errors_of(host, text: str) -> list[str]:
    with pytest.raises(assessments.DefinitionError) as info:
        assessments.parse(text, host)
    return info.value.errors


def test_the_definition_is_valid(host):
    assert assessments.parse(DEFINITION, host)["satisfaction"]["surveys"][1]["key"] == "s2014"


@pytest.mark.parametrize("old,new,expected", [
    ('kind = "scale5"', 'kind = "stars"', "satisfaction.questions[2].kind: 'stars' is not one of"),
    ("closes = 2014-12-20", "closes = 2014-10-20",
     "satisfaction.surveys[1].closes: 2014-10-20 is before opens 2014-11-01"),
    ('previous = "s2013"', 'previous = "s2099"',
     "satisfaction.surveys[1].previous: 's2099' is not a survey defined above this one"),
    ('exclude = ["too_fast", "busy_address"]', 'exclude = ["too_slow"]',
     "satisfaction.exclude[0]: 'too_slow' is not one of"),
    ('period = "2014"', 'period = "2015"',
     "satisfaction.surveys[1].period: '2015' is not one of the [[periods]] of this file"),
    ("quota = 4", "quota = -1", "satisfaction.surveys[1].quota: -1 is negative"),
    ('safety = "safety"\nprevious', 'safety = "comment"\nprevious',
     "satisfaction.surveys[1].safety: question 'comment' is free text and cannot be scored"),
    ("min_seconds = 20", "min_seconds = 20\ncolour = 1", "satisfaction.colour: unknown key"),
    ("quota = 4", 'quota = "many"', "satisfaction.surveys[1].quota"),
    ('labels = ["安全", "基本安全", "不安全"]', 'labels = ["安全", "不安全"]',
     "satisfaction.questions[1].labels: a sat3 question needs 3 labels, not 2"),
    ('kind = "text"\nrequired = false\ncomplaint = true', 'kind = "yesno"\ncomplaint = true',
     "satisfaction.questions[3].complaint: only a text question can be marked as a complaint"),
])
def test_bad_sections_name_the_key(host, old, new, expected):
    assert old in DEFINITION
    errors = errors_of(host, DEFINITION.replace(old, new, 1))
    assert any(e.startswith(expected) for e in errors), errors


async def test_apply_twice_changes_nothing_and_a_new_rule_rejudges(applied, host):
    first = await Survey.get(key="s2014")
    again, changed = await assessments.apply(DEFINITION + "\n# same rules\n", host)
    assert changed and again.version == 2
    assert await Survey.all().count() == 2
    same = await Survey.get(key="s2014")
    assert (same.id, same.salt, same.spec) == (first.id, first.salt, first.spec)

    unit = await OrgUnit.get(code="520102001")
    fast = await Response.create(survey=first, unit=unit, received_at=first.updated_at,
                                 elapsed_seconds=3, nonce="a" * 32, answers={"overall": 1},
                                 flags="too_fast", excluded=True, index_value=1)
    # Answering fast no longer excludes: the stored response is judged again, not dropped.
    await assessments.apply(DEFINITION.replace('exclude = ["too_fast", "busy_address"]',
                                               'exclude = ["busy_address"]'), host)
    assert not (await Response.get(id=fast.id)).excluded
    assert (await Survey.get(key="s2014")).spec["exclude"] == ["busy_address"]
