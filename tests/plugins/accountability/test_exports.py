"""Indicators, workbooks read back with python-calamine, and the closing job."""

import datetime as dt
import io
import os
import subprocess
import sys
from decimal import Decimal

import pytest
from python_calamine import CalamineWorkbook

from core.contrib import ExportRequest
from core.exports import build_export
from plugins.accountability import appeals, jobs, services
from plugins.accountability.models import Record
from tests.conftest import make_user
from tests.plugins.accountability.helpers import YEAR, apply_definition, ours, overdue, publish

TODAY = services.today()
QUARTER = f"{YEAR}Q{(TODAY.month - 1) // 3 + 1}"
OTHER_QUARTER = f"{YEAR}Q{(TODAY.month + 2) % 12 // 3 + 1}"


async def rec(host, task_id: int, days: int, threshold: int, unit: str) -> Record:
    result = ours(await publish(overdue(task_id, days, threshold, unit=unit)))
    return await Record.get(id=result["records"][0])


@pytest.fixture
async def scenario(db, host, tmp_path):
    """Five records in every state the ledger shows."""
    await apply_definition(host)
    officer = await make_user("nm", "unit_officer", unit_code="520102")
    await rec(host, 1, 1, 1, "520102")
    a = await rec(host, 1, 31, 30, "520102")                  # circulate 2.00
    await services.approve(a.id)
    appeal = await appeals.submit(officer, a.id, reasons="已整改", evidence_name="a.pdf",
                                  evidence=b"%PDF", evidence_dir=tmp_path, max_bytes=10**6)
    await appeals.decide(appeal.id, "reduce", "情节较轻", "1")
    await services.carry_out(a.id, notes="全市通报")
    b = await rec(host, 2, 2, 1, "520103")                    # remind 0.50, carried out
    await services.approve(b.id)
    await services.carry_out(b.id)
    c = await rec(host, 3, 16, 15, "520102001")               # interview, still proposed
    d = await rec(host, 4, 1, 1, "520102")                    # remind, dismissed
    await services.dismiss(d.id, "情况属实，不予追究")
    e = await services.create_manual(unit_code="520103", measure="refer", points=5,
                                     reason="涉嫌违纪", period=str(YEAR))
    return {"a": a.id, "b": b.id, "c": c.id, "d": d.id, "e": e.id}


def sources(host) -> dict:
    return {s.key: s for plugin, s in host.collect("kaohe_indicator_sources")
            if plugin == "accountability"}


async def test_indicators_follow_carried_out_measures(scenario, host):
    src = sources(host)
    assert set(src) == {"accountability.deduction_points"} | {
        f"accountability.count.{m}" for m in ("remind", "interview", "circulate", "admonish", "refer")}
    assert all(not s.higher_is_better for s in src.values())
    codes = ["520100", "520102", "520103", "520102001", "999999"]
    points = await src["accountability.deduction_points"].values(str(YEAR), codes)
    assert points == {"520100": 1.5, "520102": 1.0, "520103": 0.5, "520102001": 0.0,
                      "999999": None}
    assert (await src["accountability.count.circulate"].values(str(YEAR), ["520100", "520103"])
            ) == {"520100": 1.0, "520103": 0.0}
    assert (await src["accountability.count.refer"].values(str(YEAR), ["520103"])) == {
        "520103": 0.0}  # approved, not yet carried out
    # By carried-out date: the quarter holding today counts, another quarter and last year do not.
    assert (await src["accountability.deduction_points"].values(QUARTER, ["520100"])) == {
        "520100": 1.5}
    assert (await src["accountability.deduction_points"].values(OTHER_QUARTER, ["520100"])) == {
        "520100": 0.0}
    assert (await src["accountability.deduction_points"].values(str(YEAR - 1), ["520100"])) == {
        "520100": 0.0}


def read(data: bytes) -> tuple[list[str], list[list]]:
    wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    return wb.sheet_names, wb.get_sheet_by_index(0).to_python()


async def test_ledger_read_back(scenario):
    names, rows = read(await build_export("accountability-ledger", ExportRequest(period=str(YEAR))))
    assert names == ["责任追究台账"] and rows[0][0] == "责任追究台账"
    header = rows[2]
    assert header[:4] == ["序号", "记录号", "单位代码", "单位"]
    col = {h: i for i, h in enumerate(header)}
    data = {int(r[col["记录号"]]): r for r in rows[3:]}
    assert set(data) == set(scenario.values())
    a = data[scenario["a"]]
    assert (a[col["单位"]], a[col["追究措施"]], a[col["状态"]], a[col["扣分"]]) == (
        "南明区", "通报批评", "已落实", 1.0)
    assert a[col["申诉结果"]] == "申诉减轻 2.00→1.00"
    assert a[col["触发类型"]] == "整改逾期" and a[col["依据编号"]] == f"ZG-{YEAR}-0001"
    assert a[col["落实日期"]] == TODAY and a[col["责任人"]] == "张三"
    assert data[scenario["c"]][col["状态"]] == "待审批"
    assert data[scenario["d"]][col["状态"]] == "不予追究"
    e = data[scenario["e"]]
    assert (e[col["追究措施"]], e[col["触发类型"]], e[col["扣分"]]) == ("移送纪检监察", "人工登记", 5.0)
    # Scoped to a unit: only its subtree.
    _, rows = read(await build_export("accountability-ledger",
                                      ExportRequest(period=str(YEAR), unit="520103")))
    assert sorted(int(r[1]) for r in rows[3:]) == [scenario["b"], scenario["e"]]
    # Last year holds none of them: the sheet says so in a row of its own.
    _, rows = read(await build_export("accountability-ledger", ExportRequest(period=str(YEAR - 1))))
    assert [r[0] for r in rows[3:]] == ["本期无记录"]


async def test_summary_read_back_agrees_with_indicators(scenario, host):
    names, rows = read(await build_export("accountability-summary", ExportRequest(period=str(YEAR))))
    assert names == ["责任追究情况汇总"]
    header = rows[2]
    col = {h: i for i, h in enumerate(header)}
    body = {r[0]: r for r in rows[3:-1]}
    total = rows[-1]
    assert set(body) == {"520102", "520102001", "520103"} and total[0] == "合计"
    nm = body["520102"]
    assert (nm[col["记录数"]], nm[col["不予追究"]], nm[col["通报批评"]], nm[col["已落实扣分"]],
            nm[col["申诉数"]], nm[col["申诉改变数"]]) == (2, 1, 1, 1.0, 1, 1)
    assert body["520102001"][col["待审批"]] == 1 and body["520102001"][col["已落实扣分"]] == 0
    yy = body["520103"]
    assert (yy[col["提醒"]], yy[col["移送纪检监察"]], yy[col["已批准及落实"]]) == (1, 0, 2)
    points = await sources(host)["accountability.deduction_points"].values(str(YEAR), ["520100"])
    assert total[col["已落实扣分"]] == points["520100"] == 1.5
    assert total[col["记录数"]] == 5


async def test_cli_export(scenario, settings, tmp_path):
    out = tmp_path / "ledger.xlsx"
    proc = subprocess.run(
        [sys.executable, "-m", "core", "--settings", str(settings.source), "export",
         "accountability-summary", "--period", str(YEAR), "-o", str(out)],
        capture_output=True, text=True, timeout=120, env={**os.environ})
    assert proc.returncode == 0, proc.stderr
    _, rows = read(out.read_bytes())
    assert rows[0][0] == "责任追究情况汇总" and rows[-1][0] == "合计"


async def test_close_job_waits_for_the_window_and_pending_appeals(db, host, tmp_path):
    await apply_definition(host)
    officer = await make_user("nm", "unit_officer", unit_code="520102")
    ids = []
    for task in (1, 2, 3):
        record = await rec(host, task, 2, 1, "520102")
        await services.approve(record.id)
        await services.carry_out(record.id)
        ids.append(record.id)
    await appeals.submit(officer, ids[1], reasons="x", evidence_name="a.txt", evidence=b"x",
                         evidence_dir=tmp_path, max_bytes=100)
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    await Record.filter(id__in=ids[:2]).update(approved_at=long_ago)
    changed = await jobs.close_settled()
    assert changed == {"closed": [ids[0]]}
    statuses = [(await Record.get(id=i)).status for i in ids]
    assert statuses == ["closed", "carried_out", "carried_out"]
    assert (await Record.get(id=ids[0])).points == Decimal("0.50")
    # The closing step's note, written by the job, reads in the reader's language.
    from plugins.accountability.models import RecordHistory
    from plugins.accountability.notes import note_text

    step = await RecordHistory.get(record_id=ids[0], action="closed")
    assert note_text(step.note, "zh") == "申诉期已过，记录关闭"
    assert note_text(step.note, "en") == "the appeal window has passed; the record is closed"


async def test_ledger_of_a_period_holds_its_records_whenever_they_were_entered(db, host):
    """A record belongs to its own period (or one inside the period's dates), whatever day
    it was entered; one carried out within a period's dates is in that period's ledger too."""
    from core import clock
    from core.orgs import ensure_period

    await apply_definition(host)
    await ensure_period(f"{YEAR}Q3")
    old = await rec(host, 1, 1, 1, "520102")                       # period YEAR, entered today
    quarter = await rec(host, 2, 1, 1, "520103")
    await Record.filter(id=quarter.id).update(period=f"{YEAR}Q3")  # a quarter of the year
    last_year = await rec(host, 3, 1, 1, "520102")
    await Record.filter(id=last_year.id).update(period=str(YEAR - 1))
    # Entered on a day of the next year: still a record of its own period.
    clock.travel(dt.date(YEAR + 1, 2, 3))
    try:
        late = await rec(host, 4, 1, 1, "520103")
    finally:
        clock.travel(None)
    assert services.local_date(late.created_at).year == YEAR + 1
    _, rows = read(await build_export("accountability-ledger", ExportRequest(period=str(YEAR))))
    assert sorted(int(r[1]) for r in rows[3:]) == sorted([old.id, quarter.id, late.id])
    _, rows = read(await build_export("accountability-ledger",
                                      ExportRequest(period=str(YEAR - 1))))
    assert [int(r[1]) for r in rows[3:]] == [last_year.id]
    # The record list filtered by period answers the same.
    admin = await make_user("admin1", "admin")
    listed = await services.list_records(admin, period=str(YEAR))
    assert sorted(r.id for r in listed) == sorted([old.id, quarter.id, late.id])


async def test_empty_period_says_so_and_lists_every_unit_with_zeros(db, host):
    await apply_definition(host)
    await rec(host, 1, 1, 1, "520102")  # this year: not in last year's workbooks
    for lang, note in (("zh", "本期无记录"), ("en", "No records in this period")):
        request = ExportRequest(period=str(YEAR - 1), lang=lang)
        _, rows = read(await build_export("accountability-ledger", request))
        # Below the header only the merged "no records" row.
        assert rows[1][0].startswith(note) and [r[0] for r in rows[3:]] in ([], [note])
        _, rows = read(await build_export("accountability-summary", request))
        assert rows[1][0].startswith(note)
        body = rows[3:-1]
        assert [r[0] for r in body] == ["520102", "520103"]  # every county-level unit
        assert all(v in (0, 0.0) for r in body for v in r[2:])
    # Scoped to a unit: its children, with zeros.
    _, rows = read(await build_export("accountability-summary",
                                      ExportRequest(period=str(YEAR - 1), unit="520102")))
    assert [r[0] for r in rows[3:-1]] == ["520102001"]
    # A period with records does not say it has none.
    _, rows = read(await build_export("accountability-summary", ExportRequest(period=str(YEAR))))
    assert not rows[1][0].startswith("本期无记录")
    assert [r[0] for r in rows[3:-1]] == ["520102", "520103"]
