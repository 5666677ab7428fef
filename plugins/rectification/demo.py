"""Demo data for `kaohe demo`: 2014 rectification tasks through the real workflow.

Every task goes through `workflow.register` / `workflow.act` with the time of each step
injected, so the demo has a true timeline, audit trail and evidence files. Deterministic
for a given seed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from core import clock
from core.accounts import User
from core.calendar import WorkCalendar
from plugins.rectification import scan, workflow
from plugins.rectification.common import actor_for
from plugins.rectification.config import current_definition

N_TASKS = 150
PROBLEMS = {
    "traffic_parking": ["小区周边乱停车堵塞消防通道", "学校门口上下学时段交通拥堵"],
    "food_market": ["农贸市场污水外溢", "社区缺少便民菜点"],
    "activity_space": ["社区活动室长期关闭", "健身器材损坏未修复"],
    "elderly": ["居家养老服务站未按时开放", "高龄津贴发放延迟"],
    "public_security": ["背街小巷路灯不亮", "出租屋治安隐患排查不到位"],
    "housing": ["老旧小区屋面漏水", "棚户区改造进度滞后"],
    "party_building": ["非公企业党组织未按期换届", "党员活动室未达标"],
    "general": ["网格员信息采集不及时", "群众诉求回复超时"],
}
SOURCES = ["grid", "hotline_12319", "inspection", "supervision", "petition"]
PDF = b"%PDF-1.4\n% kaohe demo evidence\n"


def _at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=clock.tz())


async def build(ctx: Any) -> dict[str, Any]:
    rng, cal, defn = ctx.rng, await WorkCalendar.load(), await current_definition()
    admin = await actor_for(ctx.users["admin"])
    officer = await actor_for(ctx.users["unit_officer"])
    officers: dict[str, Any] = {}
    categories = [c for c in PROBLEMS if c in defn.categories] or list(defn.categories)
    counts: dict[str, int] = {}
    units = ctx.communities + ctx.districts
    for i in range(N_TASKS):
        if i % 30 == 0:
            ctx.progress(f"rectification tasks {i}/{N_TASKS}")
        unit = rng.choice(units)
        category = rng.choice(categories)
        registered = cal.add_working_days(dt.date(2014, 1, 2), rng.randint(0, 200))
        task = await workflow.register(admin, {
            "period": "2014", "source": rng.choice([s for s in SOURCES if s in defn.sources]),
            "category": category, "title": rng.choice(PROBLEMS.get(category, ["问题"])),
            "description": "演示数据", "unit": unit.code,
            "severity": rng.choices(["urgent", "serious", "general"], [2, 3, 5])[0],
            "responsible_person": rng.choice(["张伟", "王芳", "李娜", "刘洋", "陈静"]),
        }, now=_at(registered, 9), defn=defn)
        fate = rng.random()
        day = registered

        async def step(action, who, data, days=1, files=None, hour=10):
            nonlocal task, day
            day = cal.add_working_days(day, days)
            task = await workflow.act(task.id, action, who, {"version": task.version, **data},
                                      now=_at(day, hour), files=files, settings=ctx.settings)

        if fate < 0.08:
            await step("reject", admin, {"reason": "经研判不属于整改范围"})
        elif fate < 0.13:
            if fate >= 0.10:  # some wait in the queue: registered, or assessed
                await step("assess", admin, {"reason": "情况属实"})
        else:
            await step("assess", admin, {"reason": "情况属实"})
            await step("dispatch", admin, {})
            unit_officer = await _officer_for(unit, officer, ctx, officers)
            if fate < 0.25:
                pass  # still open: becomes overdue in the daily scan
            else:
                late = rng.random() < 0.2
                span = cal.working_days_between(day, task.deadline)
                await step("respond", unit_officer, {"note": "已按要求完成整改"},
                           days=max(1, span + (rng.randint(1, 5) if late else -rng.randint(0, 2))),
                           files=[("整改佐证.pdf", PDF)])
                if rng.random() < 0.15:
                    await step("verify", admin, {"passed": False, "reason": "整改不彻底"})
                    await step("respond", unit_officer, {"note": "已再次整改"}, days=3,
                               files=[("复查佐证.pdf", PDF)])
                await step("verify", admin, {"passed": True})
                if rng.random() < 0.85:
                    await step("evaluate", admin, {"satisfaction": rng.randint(60, 100),
                                                   "comment": "群众基本满意"})
        counts[task.status] = counts.get(task.status, 0) + 1
    ctx.progress("rectification overdue scan")
    result = await scan.overdue_scan(today=ctx.today)
    return {"tasks": N_TASKS, "by_status": counts, "scan": result}


async def _officer_for(unit: Any, default: Any, ctx: Any, cache: dict[str, Any]) -> Any:
    """The demo officer of the task's district, created on first use (one shared hash)."""
    district = unit if unit.level == "district" else await unit.parent
    if district.code not in cache:
        user = await User.get_or_none(unit_id=district.id, role="unit_officer")
        if user is None:
            user = await User.create(username=f"officer_{district.code}",
                                     display_name=f"{district.name}联络员", role="unit_officer",
                                     unit=district, password_hash=ctx.password_hash)
        cache[district.code] = await actor_for(user)
    return cache[district.code]
