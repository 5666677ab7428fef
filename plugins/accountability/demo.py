"""The accountability part of `kaohe demo`: the admin works the queue through 2014.

Rectification's morning scans and ranking's publications propose records through the hook
path as the demo's clock walks through the year. Each working day the admin decides the
proposals a few days old (approve, or dismiss a few), carries out approved measures a few days
after the approval, and the daily close job closes carried-out records whose appeal window has
passed; units appeal four records (pending, upheld, reduced, withdrawn), the demo officer's
first; in December the admin records one 移送纪检监察 by hand. Every step is dated on its day
of 2014 by the services' own clock. Deterministic for a given seed.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from core.accounts import User
from core.audit import acting_as
from core.calendar import WorkCalendar
from core.orgs import OrgUnit
from plugins.accountability import appeals, jobs, services
from plugins.accountability.ladder import CENT
from plugins.accountability.models import STANDING, Appeal, Record

# Appeal fates: the first three for records decided during the year, "pending" for one
# approved in December (its appeal still waits for a decision on 2014-12-31).
APPEAL_FATES = ("appeal_upheld", "appeal_reduced", "appeal_withdrawn", "appeal_pending")
PENDING_FROM = dt.date(2014, 11, 17)
LAST_CALL = dt.date(2014, 12, 22)  # no top-rung record came: the latest appealable one is taken
REFER_ON = dt.date(2014, 12, 15)
DISMISS_SHARE = 0.12
CARRY_NOTES = {
    "remind": "市委组织部向责任单位发出书面提醒，责任单位已回复整改计划",
    "interview": "市委组织部对责任人进行约谈，责任人作出书面说明",
    "circulate": "在全市社会建设工作推进会上通报批评，并抄送区（市、县）委",
    "admonish": "由区（市、县）纪委对责任人进行诫勉谈话，记入个人档案",
    "refer": "已将问题线索及相关材料移送市纪委市监委",
}
DISMISS_REASONS = [
    "经核实，逾期系上级部门审批延误所致，责任不在本单位",
    "该问题已并入全市统一整改项目，由市级部门牵头办理",
    "经复核，责任单位已在期限内报送整改材料，系系统录入延误",
]
APPEAL_REASONS = [
    "该任务涉及跨部门协调，逾期原因不在本单位，附协调函件",
    "整改已于期限内完成，因网格员未及时录入导致逾期，附整改照片及验收记录",
    "责任人认定有误，该任务当时由原社区负责人承办",
]
PDF = b"%PDF-1.4\n% kaohe demo appeal evidence\n"


async def build(ctx: Any) -> dict[str, Any]:
    rng = ctx.rng
    admin = ctx.users["admin"].username
    officer: User = ctx.users["unit_officer"]
    evidence_dir = ctx.settings.path(ctx.settings.storage.evidence_dir)
    max_bytes = ctx.settings.storage.max_upload_mb * 1024 * 1024
    cal = await WorkCalendar.load()
    waits: dict[tuple[int, int], int] = {}  # (record, revision) → working days before acting
    fates: dict[int, str] = {}
    appellants: dict[int, User] = {}
    filed: dict[int, tuple[Appeal, dt.date]] = {}
    left = list(APPEAL_FATES)

    def waited(record: Record, since: dt.date, day: dt.date, lo: int, hi: int) -> bool:
        key = (record.id, record.revision)
        if key not in waits:
            waits[key] = rng.randint(lo, hi)
        return cal.working_days_between(since, day) >= waits[key]

    async def decide(record: Record, day: dt.date) -> None:
        upgrade = record.revision > 1 or record.prev_state
        if not upgrade and record.trigger_type != "bottom_ranking":
            user = await _appellant(record, officer)
            planned = [r for r, f in fates.items() if f == "appeal_pending"]
            if planned and "appeal_pending" not in left and await Appeal.filter(
                    record_id=planned[-1], status="superseded").exists():
                left.append("appeal_pending")  # overtaken by an upgrade: another one waits
            slot = next((f for f in left if (f == "appeal_pending") == (day >= PENDING_FROM)),
                        None)
            if slot == "appeal_pending" and not await _top_rung(record):
                slot = None  # a later rung would overtake the appeal before the year ends
            if user is not None and slot and (user.id == officer.id or day.month >= 7):
                left.remove(slot)
                fates[record.id], appellants[record.id] = slot, user
            elif rng.random() < DISMISS_SHARE:
                await services.dismiss(record.id, rng.choice(DISMISS_REASONS))
                return
        await services.approve(record.id, note="经审核，同意按责任追究办法处理")

    async def appeal(record: Record, day: dt.date) -> None:
        user = appellants[record.id]
        with acting_as(user.username):
            filed[record.id] = (await appeals.submit(
                user, record.id, reasons=rng.choice(APPEAL_REASONS), evidence_name="情况说明.pdf",
                evidence=PDF, evidence_dir=evidence_dir, max_bytes=max_bytes), day)

    async def rule_on(record: Record) -> None:
        fate, (filing, _) = fates[record.id], filed.pop(record.id)
        if fate == "appeal_upheld":
            await appeals.decide(filing.id, "uphold", "经复核，逾期事实清楚，维持原处理")
        elif fate == "appeal_withdrawn":
            await appeals.decide(filing.id, "withdraw", "经核实，整改已在期限内完成，撤销处理")
        else:
            half = (record.points / 2).quantize(CENT, rounding=ROUND_HALF_UP)
            await appeals.decide(filing.id, "reduce", "考虑跨部门协调的客观原因，减半扣分",
                                 new_points=str(half))

    async def each_day(day: dt.date) -> None:
        with acting_as("job:accountability.close_settled"):
            await jobs.close_settled()  # the daily job: appeal windows that have passed
        if not cal.is_workday(day):
            return
        with acting_as(admin):
            if day == REFER_ON:
                await _refer(ctx, day)
            for record in await Record.filter(status="proposed").order_by("id") \
                    .select_related("unit"):
                if waited(record, services.local_date(record.updated_at), day, 2, 4):
                    await decide(record, day)
            for record in await Record.filter(status="approved").order_by("id"):
                fate = fates.get(record.id, "")
                if fate in ("appeal_reduced", "appeal_withdrawn") and record.id not in filed \
                        and not await Appeal.exists(record=record):
                    await appeal(record, day)
                    continue
                if record.id in filed:
                    continue  # the measure waits for the appeal's decision
                if waited(record, services.local_date(record.approved_at), day, 2, 5):
                    await _carry_out(record, day)
                    if fate in ("appeal_upheld", "appeal_pending"):
                        await appeal(await Record.get(id=record.id), day)
            if day == LAST_CALL and "appeal_pending" in left:
                await _last_call(day)
            for record_id, (_, on) in sorted(filed.items()):
                record = await Record.get(id=record_id)
                if fates[record_id] != "appeal_pending" and \
                        cal.working_days_between(on, day) >= 3:
                    await rule_on(record)

    async def _last_call(day: dt.date) -> None:
        for record in await Record.filter(status__in=("approved", "carried_out"),
                                          automatic=True).order_by("-approved_at") \
                .select_related("unit"):
            user = await _appellant(record, officer)
            if user is None or await Appeal.exists(record=record) or \
                    not (await appeals.can_appeal(record, user))[0]:
                continue
            left.remove("appeal_pending")
            fates[record.id], appellants[record.id] = "appeal_pending", user
            await appeal(record, day)
            return

    ctx.every_day(each_day)
    ctx.at_end(summary)
    return {}


async def _top_rung(record: Record) -> bool:
    """Whether the record already holds the highest rung its trigger can reach."""
    top = (await services.current_ladder()).rung(record.trigger_type, 10**6)
    return top is not None and top.index == record.rule_index


async def _appellant(record: Record, officer: User) -> User | None:
    """The officer who may appeal the record: the demo officer if it is in their subtree,
    else the first officer of a unit above it (rectification's demo makes one per district)."""
    unit: OrgUnit = record.unit
    if unit.path.startswith((await officer.unit).path):
        return officer
    for user in await User.filter(role="unit_officer", is_active=True).order_by("id") \
            .select_related("unit"):
        if user.unit is not None and unit.path.startswith(user.unit.path):
            return user
    return None


async def _carry_out(record: Record, day: dt.date) -> None:
    fresh = await Record.get(id=record.id)
    await services.carry_out(record.id, on=day, notes=CARRY_NOTES.get(fresh.measure, ""))


async def _refer(ctx: Any, day: dt.date) -> Record:
    """移送纪检监察, only ever by hand: the unit with the most standing measures, else any
    community."""
    standing = await Record.filter(automatic=True, status__in=STANDING).order_by("id") \
        .select_related("unit")
    per_unit = Counter(r.unit.code for r in standing)
    if per_unit:
        code = min(per_unit, key=lambda c: (-per_unit[c], c))
        mine = [r for r in standing if r.unit.code == code]
        person, refs = mine[-1].responsible_person, ", ".join(r.trigger_ref for r in mine)
        reason = (f"{len(mine)}项整改任务逾期未整改，已被追究责任仍未落实整改，涉嫌失职失责，"
                  "移送纪检监察机关处理")
    else:
        code = ctx.rng.choice(ctx.communities).code
        person, refs, reason = "", "", "问题整改弄虚作假，涉嫌失职失责，移送纪检监察机关处理"
    ladder = await services.current_ladder()
    record = await services.create_manual(
        unit_code=code, measure="refer", points=ladder.points_for("refer", Decimal("5.00")),
        reason=reason, responsible_person=person, target="head", period=ctx.period,
        trigger_ref=refs[:100])
    await _carry_out(record, day)
    return record


async def summary() -> dict[str, Any]:
    statuses = Counter(await Record.all().values_list("status", flat=True))
    outcomes = Counter(await Appeal.all().values_list("status", flat=True))
    return {"records": sum(statuses.values()), "by_status": dict(sorted(statuses.items())),
            "appeals": dict(sorted(outcomes.items())),
            "manual": await Record.filter(automatic=False).count(),
            "refer": await Record.filter(measure="refer").count(),
            "bottom_ranking": await Record.filter(trigger_type="bottom_ranking").count()}
