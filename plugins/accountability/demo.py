"""The accountability part of `kaohe demo`: the proposals that the earlier demo steps caused,
taken through every state with the plugin's own services.

By the time this runs, rectification's overdue scan and ranking's publications have gone
through the hook path, so the plugin has already proposed records. Here the admin works the
queue (approve, dismiss, carry out, close), the units appeal (pending, upheld, reduced,
withdrawn) and the admin records one 移送纪检监察 by hand. The services take their time from
the clock, so every decision is dated on the build day (Asia/Shanghai): approvals, carrying
out and appeals are then all inside the appeal window, and no step lands in a closed period.
Deterministic for a given seed: records are taken in id order and every choice is ctx.rng's.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from core.accounts import User
from core.audit import acting_as
from core.orgs import OrgUnit
from plugins.accountability import appeals, services
from plugins.accountability.ladder import CENT
from plugins.accountability.models import STANDING, Appeal, Record

# Appeal fates first: they need a unit officer who may appeal the record.
APPEAL_FATES = ("appeal_pending", "appeal_upheld", "appeal_reduced", "appeal_withdrawn")
REQUIRED = ("proposed", "proposed", "dismissed", "approved", "carried_out")
OTHER_FATES = {"proposed": 3, "approved": 2, "carried_out": 4, "dismissed": 1}
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
    day = services.today()  # the services' own clock: approvals are stamped with it
    ctx.progress("accountability records")

    proposed = await Record.filter(status="proposed").order_by("id").select_related("unit")
    bottom = [r for r in proposed if r.trigger_type == "bottom_ranking"]
    tasks = [r for r in proposed if r.trigger_type != "bottom_ranking"]
    rng.shuffle(tasks)
    fates: dict[int, str] = {}
    appellants: dict[int, User] = {}
    # The demo officer's records first, so logging in as that officer shows the appeals.
    candidates = []
    for record in tasks:
        user = await _appellant(record, officer)
        if user is not None:
            candidates.append((user.id != officer.id, record, user))
    candidates.sort(key=lambda c: c[0])  # stable: keeps the shuffled order within each group
    for fate, (_, record, user) in zip(APPEAL_FATES, candidates, strict=False):
        fates[record.id], appellants[record.id] = fate, user
    rest = [r for r in tasks if r.id not in fates]
    for fate, record in zip(REQUIRED, rest, strict=False):
        fates[record.id] = fate
    for record in rest[len(REQUIRED):]:
        fates[record.id] = rng.choices(list(OTHER_FATES), list(OTHER_FATES.values()))[0]

    by_id = {r.id: r for r in tasks}
    # Too few appealable proposals (another seed, or no rectification data): the admin's own
    # records in the demo officer's unit stand at once and can be appealed like any other.
    for fate in APPEAL_FATES[len(candidates):]:
        with acting_as(admin):
            record = await services.create_manual(
                unit_code=(await officer.unit).code, measure="remind", points="0.5",
                reason="基层党建工作台账不完整，未按要求报送季度材料", period=ctx.period,
                responsible_person="社区党组织书记")
        fates[record.id], appellants[record.id], by_id[record.id] = fate, officer, record

    async def appeal(record: Record) -> Appeal:
        user = appellants[record.id]
        with acting_as(user.username):
            return await appeals.submit(
                user, record.id, reasons=rng.choice(APPEAL_REASONS), evidence_name="情况说明.pdf",
                evidence=PDF, evidence_dir=evidence_dir, max_bytes=max_bytes)

    for record_id in sorted(fates):
        fate, record = fates[record_id], by_id[record_id]
        with acting_as(admin):
            if fate == "proposed":
                continue  # waits in the admin's queue
            if fate == "dismissed":
                await services.dismiss(record.id, rng.choice(DISMISS_REASONS))
                continue
            if record.status == "proposed":
                await services.approve(record.id, note="经审核，同意按责任追究办法处理")
            if fate in ("carried_out", "appeal_pending", "appeal_upheld"):
                await _carry_out(record, day)
        if fate in ("approved", "carried_out"):
            continue
        filed = await appeal(record)
        if fate == "appeal_pending":
            continue
        with acting_as(admin):
            if fate == "appeal_upheld":
                await appeals.decide(filed.id, "uphold", "经复核，逾期事实清楚，维持原处理")
            elif fate == "appeal_withdrawn":
                await appeals.decide(filed.id, "withdraw", "经核实，整改已在期限内完成，撤销处理")
            else:
                fresh = await Record.get(id=record.id)
                half = (fresh.points / 2).quantize(CENT, rounding=ROUND_HALF_UP)
                await appeals.decide(filed.id, "reduce", "考虑跨部门协调的客观原因，减半扣分",
                                     new_points=str(half))
                await _carry_out(record, day)
            if fate in ("appeal_upheld", "appeal_reduced"):
                # Appealed once for this revision: closing takes no right away from the unit.
                await services.close(record.id, "申诉已处理，措施已落实，予以办结")

    with acting_as(admin):
        for record in bottom:  # 末位约谈: the unit's head, after bottom places in a row
            await services.approve(record.id, note="连续排名末位，约谈主要负责人")
            await _carry_out(record, day)
        await _refer(ctx, day)
    return await summary()


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
