"""Coverage figures computed in the database, checked against hand-counted examples."""

import datetime as dt
from decimal import Decimal

import pytest

from core.orgs import OrgUnit, Period
from plugins.coverage import stats
from plugins.coverage.models import Organization, PartyOrg, PartyOrgLink, PeriodFact
from tests.plugins.coverage.world import FIGURES_Q3, build_world


def test_rate_rounds_half_up_to_two_decimals():
    assert stats.rate(1, 800) == Decimal("0.13")  # 0.125: banker's rounding would give 0.12
    assert stats.rate(3, 1600) == Decimal("0.19")  # 0.1875
    assert stats.rate(1, 8) == Decimal("12.50")
    assert stats.rate(5, 9) == Decimal("55.56")
    assert stats.rate(2, 3) == Decimal("66.67")
    assert stats.rate(1, 3) == Decimal("33.33")
    assert stats.rate(0, 5) == Decimal("0.00")
    assert stats.rate(0, 0) is None


async def _figures(period, code):
    unit = await OrgUnit.get(code=code)
    return await stats.figures_for(period, unit)


@pytest.mark.parametrize("key", sorted(FIGURES_Q3))
async def test_q3_figures_match_the_hand_count(db, key):
    await build_world()
    code, kind = key
    got = (await _figures("2014Q3", code))[kind]
    expect = FIGURES_Q3[key]
    for name, value in expect.items():
        actual = getattr(got, name)
        if name.endswith("_rate"):
            assert actual == Decimal(value), (key, name, actual)
        else:
            assert actual == value, (key, name, actual)
    assert got.org_covered == expect["own"] + expect["joint"]
    assert got.work_covered == expect["own"] + expect["joint"] + expect["instructor_only"]


async def test_district_equals_its_community_and_all_units_in_one_call(db):
    await build_world()
    units = {u.code: u for u in await OrgUnit.all()}
    result = await stats.unit_figures("2014Q3")
    assert result[units["520102"].id]["total"].as_dict() == result[units["520102001"].id]["total"].as_dict()
    qianling = result[units["520103"].id]["total"]
    assert (qianling.orgs, qianling.org_covered, qianling.work_covered) == (3, 2, 3)
    assert qianling.org_rate == Decimal("66.67") and qianling.work_rate == Decimal("100.00")


async def test_as_of_period_end_dates_count(db):
    """Q4: E8's party organization (established 2014-10-15) now counts as its own."""
    await build_world()
    q4 = (await _figures("2014Q4", "520100"))["total"]
    assert (q4.orgs, q4.own, q4.joint, q4.instructor_only, q4.uncovered) == (12, 4, 4, 2, 2)
    assert q4.org_rate == Decimal("66.67")  # 8/12
    assert q4.work_rate == Decimal("83.33")  # 10/12


async def test_closed_period_is_frozen_and_never_changes(db):
    """Q2 (closed): E5's party org was not yet dissolved, wang still assigned, E9 closed in May."""
    world = await build_world()
    q2 = (await _figures("2014Q2", "520100"))["total"]
    assert (q2.orgs, q2.own, q2.joint, q2.instructor_only, q2.uncovered) == (12, 4, 4, 3, 1)
    assert q2.org_rate == Decimal("66.67") and q2.work_rate == Decimal("91.67")
    assert q2.instructors == 3 and q2.should_establish == 3
    assert await PeriodFact.filter(period_code="2014Q2").count() == 12
    before = q2.as_dict()
    # Later edits, even back-dated ones, do not reach the closed period.
    unit = world["units"]["520102001"]
    late = await Organization.create(uscc="91520102MA0000001X", name="迟到企业", kind="enterprise",
                                     community=unit, formal_members=9)
    p = await PartyOrg.get(name="E1党支部")
    p.dissolved_on = dt.date(2014, 1, 1)
    await p.save()
    await PartyOrgLink.filter(organization=world["orgs"]["S4"]).delete()
    assert (await _figures("2014Q2", "520100"))["total"].as_dict() == before
    q3 = (await _figures("2014Q3", "520100"))["total"]
    assert q3.orgs == 13 and q3.own == 2 and q3.joint == 3  # the open period follows the registry
    assert late.id


async def test_reopened_period_goes_live_again(db):
    await build_world()
    await _figures("2014Q2", "520100")
    await Period.filter(code="2014Q2").update(status="open")
    result = await stats.freeze_closed_periods()
    assert result["reopened"] == ["2014Q2"]
    assert await PeriodFact.filter(period_code="2014Q2").count() == 0


async def test_drilldown_lists_exactly_the_counted_organizations(db):
    world = await build_world()
    orgs = world["orgs"]
    city = await OrgUnit.get(code="520100")
    hgy = await OrgUnit.get(code="520102001")
    codes = lambda rows: sorted(r["uscc"] for r in rows)  # noqa: E731
    d = await stats.drilldown("2014Q3", hgy, "enterprise", "org_rate")
    assert codes(d["numerator"]) == sorted(orgs[k].uscc for k in ("E1", "E2", "E3", "E6"))
    assert codes(d["denominator"]) == sorted(orgs[k].uscc for k in ("E1", "E2", "E3", "E4", "E5", "E6"))
    assert d["value"] == 66.67
    d = await stats.drilldown("2014Q3", city, None, "work_rate")
    assert len(d["numerator"]) == 10 and len(d["denominator"]) == 12
    d = await stats.drilldown("2014Q3", city, "total", "should_establish")
    assert codes(d["organizations"]) == sorted(orgs[k].uscc for k in ("E4", "S3", "E7"))
    d = await stats.drilldown("2014Q3", city, None, "joint")
    assert codes(d["organizations"]) == sorted(orgs[k].uscc for k in ("E2", "E3", "E7", "S4"))
    d = await stats.drilldown("2014Q3", city, None, "instructor_only")
    assert codes(d["organizations"]) == sorted(orgs[k].uscc for k in ("E4", "E8", "S2"))
    d = await stats.drilldown("2014Q3", city, "social", "instructors")
    assert [p["username"] for p in d["instructors"]] == ["li"]
    d = await stats.drilldown("2014Q2", city, None, "instructors")  # frozen period
    assert [p["username"] for p in d["instructors"]] == ["li", "wang", "zhang"]
    # Every count figure agrees with its drill-down, in every unit and kind.
    all_figures = await stats.unit_figures("2014Q3")
    for unit in await OrgUnit.all():
        for kind in ("enterprise", "social", "total"):
            fig = all_figures.get(unit.id)
            for name in stats.COUNT_FIGURES:
                rows = (await stats.drilldown("2014Q3", unit, kind, name))["organizations"]
                assert len(rows) == (getattr(fig[kind], name) if fig else 0), (unit.code, kind, name)


async def test_bad_drilldown_arguments_name_the_field(db):
    await build_world()
    city = await OrgUnit.get(code="520100")
    from core.errors import Invalid, NotFound

    with pytest.raises(Invalid) as e:
        await stats.drilldown("2014Q3", city, "state", "orgs")
    assert e.value.field == "kind"
    with pytest.raises(Invalid) as e:
        await stats.drilldown("2014Q3", city, None, "happiness")
    assert e.value.field == "figure"
    with pytest.raises(NotFound) as e:
        await stats.drilldown("2015Q1", city, None, "orgs")
    assert e.value.field == "period"
