"""The address limits: a flood is refused, a busy shared network is flagged and excluded."""

from __future__ import annotations

import pytest

from plugins.satisfaction.models import Response
from tests.plugins.satisfaction.helpers import aged_token

FORM = "/satisfaction/s/s2014/520102001"


@pytest.fixture
def settings_extra() -> str:
    return "[satisfaction]\nrate_limit = 3\nbusy_address = 2\n"


async def test_a_flood_from_one_address_is_refused_and_a_busy_one_flagged(app_client):
    statuses = []
    for _ in range(5):
        app_client.cookies.clear()  # a new device each time, from the same address
        await app_client.get(FORM)
        r = await app_client.post(FORM, data={"token": await aged_token("s2014", "520102001"),
                                              "q_overall": "1", "q_safety": "1"})
        statuses.append(r.status_code)
        if r.status_code == 429:
            assert "同一网络提交过于频繁，请60分钟后再试" in r.text
    assert statuses == [200, 200, 200, 429, 429]
    rows = await Response.all().order_by("id")
    assert [(r.flags, r.excluded) for r in rows] == [
        ("", False), ("busy_address", True), ("busy_address", True)]
