"""The demo builder: the org tree at Guiyang's scale, one account per role, plugin steps,
the walk through 2014 on the platform clock, the demo's pinned settings."""

import datetime as dt
import types

import pytest

from core import clock, demo
from core.boot import boot
from core.demo_cli import write_demo_settings
from core.hookspecs import hookimpl
from core.orgs import OrgUnit, Period
from core.settings import load_settings
from tests.conftest import write_settings


@pytest.mark.once
async def test_demo_builds_tree_accounts_and_calls_plugins_in_order(db, settings, host):
    calls = []

    days, h1 = [], {}

    async def each_day(day):
        days.append((day, clock.today()))
        if day in (dt.date(2014, 7, 9), dt.date(2014, 7, 10)):
            h1[day] = (await Period.get(code="2014H1")).status

    async def at_end():
        calls.append(("end", clock.today()))
        return {"days": len(days)}

    @hookimpl
    def kaohe_demo_data(ctx):
        calls.append(("probe", ctx.period, len(ctx.communities), ctx.today))
        ctx.every_day(each_day)
        ctx.at_end(at_end)
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
    try:
        assert calls == [("probe", "2014", 93, demo.START), ("end", demo.END)]
        # Every day of the year, in order, with the clock on that day; periods close on theirs.
        assert days[0] == (demo.START, demo.START) and days[-1] == (demo.END, demo.END)
        assert all(d == today for d, today in days) and len(days) == 364
        assert all(b - a == dt.timedelta(days=1) for (a, _), (b, _) in zip(days, days[1:], strict=False))
        assert h1 == {dt.date(2014, 7, 9): "open", dt.date(2014, 7, 10): "closed"}
        assert ctx.summary["zz_probe"] == {"probe": True, "days": 364}
        assert clock.today() == demo.END  # the walk leaves the clock on the last day
    finally:
        clock.travel(None)
    # The probe (not a built-in) runs after the built-in plugins, which run in ORDER.
    names = list(ctx.summary)
    assert names[-1] == "zz_probe"
    assert [n for n in names if n in demo.ORDER] == [n for n in demo.ORDER if n in names]
    await _the_year_surveys_reach_the_half_year_ranking(ctx)


async def _the_year_surveys_reach_the_half_year_ranking(ctx):
    """The 2014 surveys are answered as the year is walked and frozen after they close, so
    the 2014H1 ranking (published in July) takes 群众满意度 from the survey, not 0."""
    from plugins.ranking.models import Ranking, RankingRow
    from plugins.satisfaction import services
    from plugins.satisfaction.models import Survey

    h1 = ctx.summary["satisfaction"]["guiyang-2014h1"]
    assert h1["valid"] == 6000 and h1["frozen"] and h1["complaints"] > 0
    results = await services.results(await Survey.get(key="guiyang-2014h1"))
    ranking = await Ranking.filter(period="2014H1", group="districts").order_by("-id").first()
    rows = await RankingRow.filter(ranking_id=ranking.id)
    assert len(rows) == 10
    for row in rows:
        got = row.inputs["public_satisfaction"]
        assert got["s"] == "plugin:satisfaction.rate"
        assert float(got["v"]) == results[row.unit_code]["index"]
        assert "public_satisfaction" not in (row.missing or [])


def test_spread_adds_up_exactly():
    parts = demo._spread(3270, {"a": 3, "b": 5, "c": 7})
    assert sum(parts.values()) == 3270 and parts["c"] > parts["b"] > parts["a"]


def test_demo_settings_pin_the_last_day(tmp_path):
    """`kaohe demo` serves, and later commands run, on settings that pin 2014-12-31."""
    source = write_settings(tmp_path / "instance", "sqlite://data/kaohe.sqlite3",
                            '[rectification]\nevidence_dir = "files/rect"\n')
    settings = load_settings(str(source))
    db_file = (tmp_path / "instance" / "data" / "demo.sqlite3").resolve()
    written = write_demo_settings(settings, db_file, db_file.parent / "demo-files")
    assert written == db_file.parent / "demo-settings.toml"
    try:
        demo_settings, _ = boot(str(written))
        assert demo_settings.app.today == "2014-12-31" and clock.today() == demo.END
        assert demo_settings.database.url == f"sqlite://{db_file}"
        assert demo_settings.storage.evidence_dir == str(db_file.parent / "demo-files" / "evidence")
        # Paths that were relative to the instance's file still point where they did.
        assert demo_settings.plugin("rectification").evidence_dir == str(
            (tmp_path / "instance" / "files" / "rect").resolve())
        assert demo_settings.app.secret_key == "test"  # the rest is the instance's
    finally:
        clock.configure("Asia/Shanghai")
