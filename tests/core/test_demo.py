"""The demo builder: the org tree at Guiyang's scale, one account per role, plugin steps."""

import types

from core import demo
from core.hookspecs import hookimpl
from core.orgs import OrgUnit


async def test_demo_builds_tree_accounts_and_calls_plugins_in_order(db, settings, host):
    calls = []

    @hookimpl
    def kaohe_demo_data(ctx):
        calls.append(("probe", ctx.period, len(ctx.communities)))
        return {"probe": True}

    probe = types.ModuleType("probe_demo")
    probe.kaohe_demo_data = kaohe_demo_data
    host.register("zz_probe", probe)
    ctx = await demo.build(settings, host, seed=7)
    assert await OrgUnit.filter(level="district").count() == 10
    assert await OrgUnit.filter(level="community").count() == 93
    assert await OrgUnit.filter(level="grid").count() == 3270
    assert set(ctx.users) == {"admin", "instructor", "unit_officer", "leader"}
    assert ctx.users["admin"].check_password(demo.demo_password("admin"))
    assert calls == [("probe", "2014", 93)]
    # The probe (not a built-in) runs after the built-in plugins, which run in ORDER.
    names = list(ctx.summary)
    assert names[-1] == "zz_probe"
    assert [n for n in names if n in demo.ORDER] == [n for n in demo.ORDER if n in names]


def test_spread_adds_up_exactly():
    parts = demo._spread(3270, {"a": 3, "b": 5, "c": 7})
    assert sum(parts.values()) == 3270 and parts["c"] > parts["b"] > parts["a"]
