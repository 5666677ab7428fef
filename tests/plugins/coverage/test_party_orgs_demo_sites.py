"""党组织数 and 示范点, hand-counted on the small world (see world.py for the registry).

2014Q1 ends 2014-03-31 (closed), 2014Q2 ends 2014-06-30 (closed), 2014Q3 ends 2014-09-30 (open).
"""

import datetime as dt

from core.orgs import OrgUnit
from plugins.coverage import stats
from plugins.coverage.models import Organization, PartyOrg, PartyOrgLink, PeriodPartyOrg
from tests.plugins.coverage.world import build_world


async def _fig(period, code, kind="total"):
    return (await stats.figures_for(period, await OrgUnit.get(code=code)))[kind]


async def _party_names(period, code, kind):
    d = await stats.drilldown(period, await OrgUnit.get(code=code), kind, "party_orgs")
    assert d["value"] == len(d["party_orgs"])
    return {p["name"]: p["organizations"] for p in d["party_orgs"]}, d


async def test_joint_party_org_covering_two_enterprises_counts_once(db):
    """花果园联合党支部 covers E2, E3, E6 (E6 also has its own): 花果园 enterprises have
    3 party organizations (E1党支部, E6党支部, the joint one), not 5 links."""
    world = await build_world()
    names, d = await _party_names("2014Q3", "520102001", "enterprise")
    assert names == {"E1党支部": 1, "E6党支部": 1, "花果园联合党支部": 3}
    assert (await _fig("2014Q3", "520102001", "enterprise")).party_orgs == 3
    # The organizations behind them are exactly the org-covered ones: E1, E2, E3, E6.
    assert sorted(o["uscc"] for o in d["organizations"]) == sorted(
        world["orgs"][k].uscc for k in ("E1", "E2", "E3", "E6"))
    # 黔灵联合党支部 covers enterprise E7 and social S4: once per kind, once in the total.
    city = {k: (await _fig("2014Q3", "520100", k)).party_orgs
            for k in ("enterprise", "social", "total")}
    assert city == {"enterprise": 4, "social": 2, "total": 5}
    names, _ = await _party_names("2014Q3", "520100", None)
    assert names == {"E1党支部": 1, "E6党支部": 1, "S1党支部": 1, "花果园联合党支部": 3,
                     "黔灵联合党支部": 2}


async def test_party_org_dissolved_before_period_end_does_not_count(db):
    """E5党支部 was dissolved on 2014-08-01: it counts in 2014Q2, not in 2014Q3."""
    await build_world()
    assert (await _fig("2014Q2", "520102001", "enterprise")).party_orgs == 4  # + E5党支部
    assert (await _fig("2014Q3", "520102001", "enterprise")).party_orgs == 3
    names, _ = await _party_names("2014Q2", "520102001", "enterprise")
    assert "E5党支部" in names
    # Dissolved on the period's last day: gone that day (the rule is dissolved_on > period end).
    p = await PartyOrg.get(name="E1党支部")
    p.dissolved_on = dt.date(2014, 9, 30)
    await p.save()
    assert (await _fig("2014Q3", "520102001", "enterprise")).party_orgs == 2
    p.dissolved_on = dt.date(2014, 10, 1)
    await p.save()
    assert (await _fig("2014Q3", "520102001", "enterprise")).party_orgs == 3
    # Established after the period end (E8党支部, 2014-10-15): only from 2014Q4 on.
    assert (await _fig("2014Q4", "520103001", "enterprise")).party_orgs == 2


async def test_demo_sites_count_only_organizations_active_at_period_end(db):
    """Demonstration sites E1, S4 and E9; E9 closed on 2014-05-01."""
    world = await build_world()
    assert (await _fig("2014Q1", "520100")).demo_sites == 3
    assert (await _fig("2014Q2", "520100")).demo_sites == 2
    q3 = {k: (await _fig("2014Q3", "520100", k)).demo_sites for k in ("enterprise", "social",
                                                                      "total")}
    assert q3 == {"enterprise": 1, "social": 1, "total": 2}
    d = await stats.drilldown("2014Q3", await OrgUnit.get(code="520100"), None, "demo_sites")
    assert sorted(o["uscc"] for o in d["organizations"]) == sorted(
        world["orgs"][k].uscc for k in ("E1", "S4"))
    assert all(o["demo"] for o in d["organizations"])


async def test_closed_period_figures_do_not_change_after_registry_edits(db):
    world = await build_world()
    units = ("520100", "520102001", "520103001")
    before = {(c, k): (await _fig("2014Q2", c, k)).as_dict()
              for c in units for k in ("enterprise", "social", "total")}
    assert before[("520100", "total")]["party_orgs"] == 6  # E5党支部 still existed on 06-30
    assert before[("520100", "total")]["demo_sites"] == 2
    drill_before, _ = await _party_names("2014Q2", "520100", None)
    assert await PeriodPartyOrg.filter(period_code="2014Q2").count() == 9  # links of 8 orgs (E6 has two)
    # Back-dated changes: a new party org for E4, E1's dissolved, the joint one unlinked from
    # S4, demonstration flags moved.
    orgs = world["orgs"]
    new = await PartyOrg.create(name="E4党支部", type="branch", formation="standalone",
                                established=dt.date(2014, 1, 1))
    await PartyOrgLink.create(party_org=new, organization=orgs["E4"])
    await PartyOrg.filter(name="E1党支部").update(dissolved_on=dt.date(2014, 2, 1))
    await PartyOrgLink.filter(organization=orgs["S4"]).delete()
    await Organization.filter(id=orgs["E1"].id).update(demo_site=False)
    await Organization.filter(id__in=[orgs["S3"].id, orgs["E2"].id]).update(demo_site=True)
    after = {(c, k): (await _fig("2014Q2", c, k)).as_dict()
             for c in units for k in ("enterprise", "social", "total")}
    assert after == before
    assert (await _party_names("2014Q2", "520100", None))[0] == drill_before
    # The open period follows the registry: E4党支部 in, E1党支部 out, 黔灵联合 lost S4.
    q3 = {k: await _fig("2014Q3", "520100", k) for k in ("enterprise", "social", "total")}
    assert (q3["enterprise"].party_orgs, q3["social"].party_orgs, q3["total"].party_orgs) == (
        4, 1, 5)
    assert (q3["enterprise"].demo_sites, q3["social"].demo_sites, q3["total"].demo_sites) == (
        1, 2, 3)


async def test_api_and_drilldown_page_show_the_new_figures(client):
    from tests.conftest import login, make_user

    await build_world()
    await make_user("boss", "admin")
    await login(client, "boss")
    r = await client.get("/api/coverage/stats", params={"period": "2014Q3", "unit": "520100"})
    total = r.json()["figures"]["total"]
    assert (total["party_orgs"], total["demo_sites"]) == (5, 2)
    r = await client.get("/api/coverage/drilldown", params={
        "period": "2014Q3", "unit": "520103001", "figure": "party_orgs"})
    body = r.json()
    assert r.status_code == 200 and body["value"] == 1
    assert body["party_orgs"][0]["name"] == "黔灵联合党支部"
    assert body["party_orgs"][0]["established"] == "2013-01-01"
    assert body["party_orgs"][0]["formation"] == "joint"
    r = await client.get("/coverage/drilldown", params={
        "period": "2014Q2", "unit": "520100", "figure": "party_orgs"},
        headers={"accept": "text/html"})
    assert r.status_code == 200 and "E5党支部" in r.text and 'id="party-orgs"' in r.text
    r = await client.get("/coverage/stats", params={"period": "2014Q3"},
                         headers={"accept": "text/html"})
    assert 'data-figure="party_orgs"' in r.text and "党组织数" in r.text and "示范点" in r.text
