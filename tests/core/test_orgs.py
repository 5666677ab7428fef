import datetime as dt

import pytest

from core.orgs import PeriodClosedError, get_open_period, parse_period
from tests.conftest import seed_units


@pytest.mark.parametrize("code, kind, start, end", [
    ("2014", "year", dt.date(2014, 1, 1), dt.date(2014, 12, 31)),
    ("2014H1", "half", dt.date(2014, 1, 1), dt.date(2014, 6, 30)),
    ("2014H2", "half", dt.date(2014, 7, 1), dt.date(2014, 12, 31)),
    ("2014Q3", "quarter", dt.date(2014, 7, 1), dt.date(2014, 9, 30)),
    ("2014-02", "month", dt.date(2014, 2, 1), dt.date(2014, 2, 28)),
    ("2016-02", "month", dt.date(2016, 2, 1), dt.date(2016, 2, 29)),
])
def test_period_codes(code, kind, start, end):
    assert parse_period(code) == (kind, start, end)


@pytest.mark.parametrize("code", ["2014Q5", "2014-13", "14", "2014H3", "", "2014-1"])
def test_bad_period_codes(code):
    with pytest.raises(ValueError, match="period code"):
        parse_period(code)


async def test_closed_period_is_read_only(db):
    await seed_units()
    assert (await get_open_period("2014")).code == "2014"
    with pytest.raises(PeriodClosedError):
        await get_open_period("2013")


async def test_subtree_by_path(db):
    from core.orgs import OrgUnit, subtree

    await seed_units()
    nm = await OrgUnit.get(code="520102")
    assert {u.code for u in await subtree(nm)} == {"520102", "520102001"}
    city = await OrgUnit.get(code="520100")
    assert len(await subtree(city, level="community")) == 2
