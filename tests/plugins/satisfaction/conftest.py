"""Fixtures for the satisfaction tests: the platform clock inside the 2014 survey, the small
definition applied."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.plugins.satisfaction.helpers import DEFINITION, OPEN_DAY


@pytest.fixture(autouse=True)
def platform_day(request):
    from core import clock
    from plugins.satisfaction import answering

    if "booted" in request.fixturenames:
        request.getfixturevalue("booted")  # boot sets the clock from settings: pin after it
    clock.travel(dt.date.fromisoformat(OPEN_DAY))
    answering.forget_cache()
    yield
    clock.travel(None)
    answering.forget_cache()


@pytest.fixture
async def applied(db, host):
    from core import assessments

    row, _ = await assessments.apply(DEFINITION, host, applied_by="test")
    return row


@pytest.fixture
async def app_client(client, host):
    from core import assessments

    await assessments.apply(DEFINITION, host, applied_by="test")
    return client
