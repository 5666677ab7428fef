"""`kaohe demo`: a deterministic Guiyang demo database at real scale, living in 2014.

The core builds the org tree (10 county-level units, 93 communities, 3,270 grids), the
periods from assessments/guiyang-2014.toml and one account per role; each plugin then adds
its own data through the `kaohe_demo_data` hook, producers before listeners. A plugin that
acts over time registers what it does each day (`ctx.every_day`); the core then walks the
platform clock through 2014 day by day (`clock.travel`), closing each period when its
results are in, and calls those steps in plugin order, so every action is dated as real
use would date it. The clock stays on the last day (2014-12-31): the demo's settings pin it.
"""

from __future__ import annotations

import datetime as dt
import inspect
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import accounts, assessments, audit, clock
from core.audit import acting_as
from core.orgs import OrgUnit, Period
from core.plugins import PluginHost
from core.settings import Settings

ORDER = ["coverage", "rectification", "satisfaction", "ranking", "accountability"]
START, END = dt.date(2014, 1, 2), dt.date(2014, 12, 31)
# The 2014 periods are open while the year runs and closed once their results are in (the
# definition holds their final state); 2013 is closed from the start.
CLOSE_ON = {"2014Q1": dt.date(2014, 4, 10), "2014Q2": dt.date(2014, 7, 10),
            "2014H1": dt.date(2014, 7, 10)}
DayStep = Callable[[dt.date], Awaitable[Any]]
DEFINITION = Path(__file__).resolve().parent.parent / "assessments" / "guiyang-2014.toml"
COMMUNITIES = 93
GRIDS = 3270
# Share of communities per county-level unit (urban districts hold most of them).
DISTRICT_WEIGHTS = {"520102": 17, "520103": 18, "520111": 10, "520112": 7, "520113": 7,
                    "520115": 9, "520181": 8, "520123": 6, "520122": 5, "520121": 6}
ROLE_ACCOUNTS = {
    "admin": ("admin", "组织部管理员", None),
    "instructor": ("instructor", "党建指导员（示例）", None),
    "unit_officer": ("officer", "南明区联络员", "520102"),
    "leader": ("leader", "市领导", None),
}


@dataclass
class DemoContext:
    rng: random.Random
    settings: Settings
    host: PluginHost
    city: OrgUnit
    districts: list[OrgUnit]
    communities: list[OrgUnit]
    grids: int
    users: dict[str, accounts.User]
    password_hash: str  # one shared hash for bulk demo accounts: argon2 per account is too slow
    progress: Callable[[str], None]
    period: str = "2014"
    start: dt.date = START
    end: dt.date = END
    summary: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    daily: list[tuple[str, DayStep]] = field(default_factory=list)
    finish: list[tuple[str, Callable[[], Awaitable[Any]]]] = field(default_factory=list)
    plugin: str = ""  # the plugin whose build is running

    @property
    def today(self) -> dt.date:
        return clock.today()

    def every_day(self, step: DayStep) -> None:
        """Call `step(day)` on each day of the demo year, the clock on that day."""
        self.daily.append((self.plugin, step))

    def at_end(self, step: Callable[[], Awaitable[Any]]) -> None:
        """Call `step()` on the last day, after every plugin's daily steps."""
        self.finish.append((self.plugin, step))


def _spread(total: int, weights: dict[str, int]) -> dict[str, int]:
    """Split `total` by weights with largest remainders so the parts add up exactly."""
    wsum = sum(weights.values())
    raw = {k: total * w / wsum for k, w in weights.items()}
    out = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: raw[k] - out[k], reverse=True)[: total - sum(out.values())]:
        out[k] += 1
    return out


async def build_tree(rng: random.Random) -> tuple[OrgUnit, list[OrgUnit], list[OrgUnit], int]:
    city = await OrgUnit.get(code="520100")
    districts = await OrgUnit.filter(level="district").order_by("sort_order")
    per_district = _spread(COMMUNITIES, DISTRICT_WEIGHTS)
    rows = []
    for d in districts:
        for i in range(1, per_district[d.code] + 1):
            code = f"{d.code}{i:03d}"
            rows.append(OrgUnit(code=code, name=f"{d.name}第{i:02d}社区", level="community",
                                parent=d, path=f"{d.path}{code}/", sort_order=i))
    await OrgUnit.bulk_create(rows)
    communities = await OrgUnit.filter(level="community").order_by("path")
    per_community = _spread(GRIDS, {c.code: rng.randint(25, 45) for c in communities})
    grids = []
    for c in communities:
        for i in range(1, per_community[c.code] + 1):
            code = f"{c.code}{i:03d}"
            grids.append(OrgUnit(code=code, name=f"{c.name}第{i}网格", level="grid", parent=c,
                                 path=f"{c.path}{code}/", sort_order=i,
                                 households=rng.randint(200, 400)))
    await OrgUnit.bulk_create(grids, batch_size=1000)
    return city, list(districts), list(communities), len(grids)


async def build(settings: Settings, host: PluginHost, seed: int = 2014,
                progress: Callable[[str], None] = lambda label: None) -> DemoContext:
    """Fill an empty, migrated database. Returns the context with the demo passwords."""
    rng = random.Random(seed)
    clock.travel(START)
    with acting_as("demo"):
        progress("assessment definition")
        await assessments.apply(DEFINITION.read_text(encoding="utf-8"), host, applied_by="demo")
        await _open_periods()
        progress("org tree")
        city, districts, communities, grids = await build_tree(rng)
        progress("accounts")
        users = {}
        for role, (username, name, unit_code) in ROLE_ACCOUNTS.items():
            unit = await OrgUnit.get(code=unit_code) if unit_code else None
            users[role] = await accounts.create_user(username, demo_password(role), role,
                                                     display_name=name, unit=unit,
                                                     email=f"{username}@kaohe.example")
        ctx = DemoContext(rng, settings, host, city, districts, communities, grids, users,
                          password_hash=users["instructor"].password_hash, progress=progress)
        impls = {i.plugin_name: i for i in host.pm.hook.kaohe_demo_data.get_hookimpls()}
        names = sorted(impls, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))
        for name in names:
            progress(f"plugin {name}")
            ctx.plugin = name
            started = time.perf_counter()
            result = impls[name].function(ctx=ctx)
            if inspect.isawaitable(result):
                result = await result
            ctx.summary[name] = result
            ctx.timings[name] = time.perf_counter() - started
        ctx.plugin = ""
        progress("the year 2014, day by day")
        await walk(ctx)
        for name, step in ctx.finish:
            started = time.perf_counter()
            result = await step()
            if isinstance(result, dict):
                ctx.summary[name] = {**(ctx.summary.get(name) or {}), **result}
            ctx.timings[name] = ctx.timings.get(name, 0) + time.perf_counter() - started
    return ctx


async def walk(ctx: DemoContext) -> None:
    """Move the clock from ctx.start to ctx.end one day at a time; on each day close the
    periods due, then run every plugin's daily step in plugin order."""
    day = ctx.start
    while day <= ctx.end:
        clock.travel(day)
        for code, on in CLOSE_ON.items():
            if on == day:
                await _close_period(code)
        for name, step in ctx.daily:
            started = time.perf_counter()
            await step(day)
            ctx.timings[name] = ctx.timings.get(name, 0) + time.perf_counter() - started
        day += dt.timedelta(days=1)


async def _open_periods() -> None:
    """The year is still ahead on its first day: its periods are open until closed."""
    await Period.filter(code__in=list(CLOSE_ON)).update(status="open", closed_at=None)


async def _close_period(code: str) -> None:
    period = await Period.get(code=code)
    await Period.filter(id=period.id).update(status="closed", closed_at=clock.now())
    await audit.record("period.close", "period", code, before={"status": period.status},
                       after={"status": "closed"}, reason=audit.said("audit.said.period_results_in"))


def demo_password(role: str) -> str:
    return f"kaohe-{role.replace('_', '-')}-2014"
