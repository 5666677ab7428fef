"""A small definition with one survey per year over two communities, and answering helpers."""

from __future__ import annotations

import re

from core.orgs import OrgUnit

SECRET = "test"  # [app] secret_key of tests/conftest.py
OPEN_DAY = "2014-11-20"

DEFINITION = """
[assessment]
slug = "t-satisfaction"
title = "满意度测试"
year = 2014

[[units]]
code = "520100"
name = "贵阳市"
level = "city"

[[units]]
code = "520102"
name = "南明区"
level = "district"
parent = "520100"

[[units]]
code = "520103"
name = "云岩区"
level = "district"
parent = "520100"

[[units]]
code = "520102001"
name = "花果园社区"
level = "community"
parent = "520102"

[[units]]
code = "520103001"
name = "黔灵社区"
level = "community"
parent = "520103"

[[periods]]
code = "2013"
status = "closed"

[[periods]]
code = "2014"

[satisfaction]
min_seconds = 20
exclude = ["too_fast", "busy_address"]

[[satisfaction.questions]]
key = "overall"
text = "您对社区工作满意吗？"
kind = "sat3"

[[satisfaction.questions]]
key = "safety"
text = "您感到安全吗？"
kind = "sat3"
labels = ["安全", "基本安全", "不安全"]

[[satisfaction.questions]]
key = "medical"
text = "看病方便吗？"
kind = "scale5"
required = false

[[satisfaction.questions]]
key = "comment"
text = "意见建议"
kind = "text"
required = false
complaint = true

[[satisfaction.surveys]]
key = "s2013"
title = "2013年测评"
period = "2013"
opens = 2013-11-01
closes = 2013-12-15
units = { level = "community", within = "520100" }
quota = 10
safety = "safety"

[[satisfaction.surveys]]
key = "s2014"
title = "2014年测评"
period = "2014"
opens = 2014-11-01
closes = 2014-12-20
units = { level = "community", within = "520100" }
quota = 4
safety = "safety"
previous = "s2013"
"""


def token_of(html: str) -> str:
    m = re.search(r'name="token" value="([^"]+)"', html)
    assert m, html[:500]
    return m.group(1)


async def aged_token(survey_key: str, unit_code: str, seconds: float = 60) -> str:
    """A form token issued `seconds` ago (as if the respondent took that long)."""
    from core import clock
    from plugins.satisfaction.answering import make_token
    from plugins.satisfaction.models import Survey

    survey = await Survey.get(key=survey_key)
    unit = await OrgUnit.get(code=unit_code)
    return make_token(SECRET, survey, unit, issued=clock.now().timestamp() - seconds)
