"""Demo data for `kaohe demo`: 2014's rectification tasks, lived through day by day.

Each task is planned here (unit, problem, what becomes of it) and then happens on its dates
while the demo's clock walks through the year: registered on its day, assessed, dispatched,
answered on time or late, verified, evaluated, through `workflow.register` / `workflow.act`.
The real overdue scan runs every morning before the day's work, so a task answered late
crosses the thresholds one by one (1, 15, 30 working days: 提醒 → 约谈 → 通报批评) and the
tasks still open on 2014-12-31 were registered in the autumn and are overdue by days or
weeks. Deterministic for a given seed.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
from collections import Counter
from dataclasses import dataclass
from typing import Any

from core import clock
from core.accounts import User
from core.calendar import WorkCalendar
from plugins.rectification import scan, workflow
from plugins.rectification.common import actor_for
from plugins.rectification.config import current_definition
from plugins.rectification.models import Task

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
# Working days late of a late answer: most by days, some past 15 (约谈), a few past 30.
LATE_SPANS = [((1, 5), 6), ((16, 22), 3), ((31, 36), 2)]


@dataclass
class Story:
    """One task's plan; `task` is set once it is registered."""

    data: dict[str, Any]
    fate: str  # reject, wait_registered, wait_assessed, open, on_time, late
    late_by: int = 0
    fails: int = 0  # failed verifications before it passes
    evaluated: bool = True
    task: Any = None


def _at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=clock.tz())


def _plan(ctx: Any, cal: WorkCalendar, defn: Any) -> list[tuple[dt.date, Story]]:
    rng = ctx.rng
    categories = [c for c in PROBLEMS if c in defn.categories] or list(defn.categories)
    sources = [s for s in SOURCES if s in defn.sources] or list(defn.sources)
    units = ctx.communities + ctx.districts
    out = []
    for _ in range(N_TASKS):
        category = rng.choice(categories)
        data = {"period": ctx.period, "source": rng.choice(sources), "category": category,
                "title": rng.choice(PROBLEMS.get(category, ["问题"])), "description": "演示数据",
                "unit": rng.choice(units).code,
                "severity": rng.choices(["urgent", "serious", "general"], [2, 3, 5])[0],
                "responsible_person": rng.choice(["张伟", "王芳", "李娜", "刘洋", "陈静"])}
        x = rng.random()
        if x < 0.08:
            story, first, span = Story(data, "reject"), dt.date(2014, 1, 2), 240
        elif x < 0.13:  # still waiting in the queue at the year's end: registered lately
            story = Story(data, "wait_registered" if x < 0.10 else "wait_assessed")
            first, span = dt.date(2014, 12, 15), 10
        elif x < 0.25:  # dispatched in the autumn and still open: overdue by days or weeks
            story, first, span = Story(data, "open"), dt.date(2014, 10, 8), 45
        else:
            late = rng.random() < 0.25
            (lo, hi), = rng.choices([s for s, _ in LATE_SPANS], [w for _, w in LATE_SPANS])
            story = Story(data, "late" if late else "on_time",
                          late_by=rng.randint(lo, hi) if late else 0,
                          fails=rng.choices([0, 1, 2], [85, 12, 3])[0],
                          evaluated=rng.random() < 0.85)
            first, span = dt.date(2014, 1, 2), 185
        out.append((cal.add_working_days(first, rng.randint(0, span)), story))
    return out


async def build(ctx: Any) -> dict[str, Any]:
    cal, defn = await WorkCalendar.load(), await current_definition()
    rng = ctx.rng
    admin = await actor_for(ctx.users["admin"])
    default_officer = await actor_for(ctx.users["unit_officer"])
    officers: dict[str, Any] = {}
    seq = itertools.count()
    agenda: list[tuple[dt.date, int, Story, str]] = []
    for day, story in _plan(ctx, cal, defn):
        heapq.heappush(agenda, (day, next(seq), story, "register"))
    scans: list[dict[str, Any]] = []

    def later(day: dt.date, days: int, story: Story, step: str) -> None:
        heapq.heappush(agenda, (cal.add_working_days(day, days), next(seq), story, step))

    async def act(story: Story, action: str, who: Any, day: dt.date, hour: int, **data: Any):
        files = data.pop("files", None)
        story.task = await workflow.act(story.task.id, action, who,
                                        {"version": story.task.version, **data},
                                        now=_at(day, hour), files=files, settings=ctx.settings)

    async def happen(day: dt.date, story: Story, step: str) -> None:
        if step == "register":
            story.task = await workflow.register(admin, story.data, now=_at(day, 9), defn=defn)
            if story.fate != "wait_registered":
                later(day, 1, story, "reject" if story.fate == "reject" else "assess")
        elif step == "reject":
            await act(story, "reject", admin, day, 10, reason="经研判不属于整改范围")
        elif step == "assess":
            await act(story, "assess", admin, day, 10, reason="情况属实")
            if story.fate != "wait_assessed":
                later(day, 1, story, "dispatch")
        elif step == "dispatch":
            await act(story, "dispatch", admin, day, 10)
            if story.fate == "open":
                return  # the unit has not answered: the morning scans find it overdue
            deadline = story.task.deadline
            if story.fate == "late":
                answer = cal.add_working_days(deadline, story.late_by)
            else:
                span = cal.working_days_between(day, deadline)
                answer = cal.add_working_days(day, max(1, span - rng.randint(0, 2)))
            heapq.heappush(agenda, (answer, next(seq), story, "respond"))
        elif step == "respond":
            officer = await _officer_for(story.task.unit, default_officer, ctx, officers)
            again = story.task.fail_count > 0
            await act(story, "respond", officer, day, 15,
                      note="已再次整改" if again else "已按要求完成整改",
                      files=[("复查佐证.pdf" if again else "整改佐证.pdf", PDF)])
            later(day, 1, story, "verify")
        elif step == "verify":
            passed = story.task.fail_count >= story.fails
            await act(story, "verify", admin, day, 10, passed=passed,
                      **({} if passed else {"reason": "整改不彻底"}))
            if not passed:
                later(day, 3, story, "respond")
            elif story.evaluated:
                later(day, rng.randint(1, 3), story, "evaluate")
        elif step == "evaluate":
            await act(story, "evaluate", admin, day, 11, satisfaction=rng.randint(60, 100),
                      comment="群众基本满意")

    async def each_day(day: dt.date) -> None:
        # The 01:30 scan before the day's work, as the scheduled job runs it. Only on working
        # days: thresholds and reminders count working days, so a weekend's scan would only
        # mark overdue a day or two early (overdue_since is the day after the deadline anyway).
        if cal.is_workday(day):
            result = await scan.overdue_scan(today=day, defn=defn)
            if result["marked_overdue"] or any(result["thresholds_crossed"].values()):
                scans.append(result)
        while agenda and agenda[0][0] <= day:
            _, _, story, step = heapq.heappop(agenda)
            await happen(day, story, step)
        if day.day == 1:
            ctx.progress(f"rectification {day:%Y-%m}")

    async def summary() -> dict[str, Any]:
        statuses = Counter(await Task.all().values_list("status", flat=True))
        crossed = Counter()
        for result in scans:
            crossed.update(result["thresholds_crossed"])
        return {"tasks": N_TASKS, "by_status": dict(sorted(statuses.items())),
                "thresholds_crossed": dict(sorted(crossed.items())),
                "scans_with_changes": len(scans)}

    ctx.every_day(each_day)
    ctx.at_end(summary)
    return {"planned": N_TASKS}


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
