"""Exports read back cell by cell, indicator values, bulk registration, the definition section."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import sys

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from core.contrib import ExportRequest
from core.exports import build_export
from core.xlsx import FIRST_DATA_ROW, HEADER_ROW
from plugins.rectification import queries
from plugins.rectification.models import Task
from plugins.rectification.scan import overdue_scan
from tests.plugins.rectification.conftest import PDF, dispatched, new_task, step

pytestmark = pytest.mark.usefixtures("db")


def sheet(data: bytes) -> list[list]:
    return CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()


def table(data: bytes) -> tuple[list, list[dict]]:
    grid = sheet(data)
    header = grid[HEADER_ROW - 1]
    return header, [dict(zip(header, r, strict=True)) for r in grid[FIRST_DATA_ROW - 1:]]


@pytest.fixture
async def scene(people, settings):
    """南明: A on time, B late, C overdue; 云岩: D open, E rejected, F overdue (worse than C)."""
    files = [("a.pdf", PDF)]
    a = await dispatched(people, severity="urgent", title="A")
    a = await step(people, a, "respond", who="nm", day="2026-10-09", note="ok", files=files,
                   settings=settings)
    a = await step(people, a, "verify", day="2026-10-12", passed=True)
    a = await step(people, a, "evaluate", day="2026-10-12", satisfaction=90)
    b = await dispatched(people, severity="urgent", title="B")
    b = await step(people, b, "respond", who="nm", day="2026-10-13", note="ok", files=files,
                   settings=settings)
    b = await step(people, b, "verify", day="2026-10-14", passed=True)
    b = await step(people, b, "evaluate", day="2026-10-14", satisfaction=70)
    c = await dispatched(people, severity="urgent", title="C", unit="520102")
    d = await dispatched(people, severity="general", title="D", unit="520103")
    e = await new_task(people, title="E", unit="520103")
    e = await step(people, e, "reject", reason="不属实")
    f = await new_task(people, title="F", unit="520103")
    f = await step(people, f, "assess")
    f = await step(people, f, "dispatch", deadline="2026-09-30", reason="限当日")
    await overdue_scan(today=dt.date(2026, 10, 20))
    return {t.title: t for t in (a, b, c, d, e, f)}


async def test_ledger_read_back(scene):
    data = await build_export("rectification-ledger", ExportRequest(
        period="2026", options={"as_of": "2026-10-20"}))
    grid = sheet(data)
    assert grid[0][0] == "问题限期整改台账" and "2026" in grid[1][0]
    header, rows = table(data)
    assert header[:3] == ["编号", "问题", "来源"]
    by_title = {r["问题"]: r for r in rows}
    assert set(by_title) == set("ABCDEF")
    assert by_title["A"]["状态"] == "已评价" and by_title["A"]["超期办结"] == "否"
    assert by_title["B"]["超期办结"] == "是" and by_title["B"]["满意度"] == 70
    assert by_title["C"]["超期工作日"] == 7  # (10-10, 10-20]: 12–16, 19, 20
    assert by_title["F"]["超期工作日"] == 10  # (09-30, 10-20]: 8, 9, 10 (调休), 12–16, 19, 20
    assert by_title["C"]["整改期限"] == dt.date(2026, 10, 10)
    assert by_title["E"]["状态"] == "不予受理" and by_title["D"]["超期工作日"] == 0
    assert by_title["A"]["编号"] == scene["A"].number and by_title["A"]["责任人"] == "张三"
    # colours by state, checked with a second reader
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    fills = {ws.cell(r, 2).value: ws.cell(r, 1).fill.fgColor.rgb[-6:]
             for r in range(FIRST_DATA_ROW, ws.max_row + 1)}
    assert fills["C"] == fills["F"] == "FFC7CE" and fills["B"] == "FFEB9C"
    assert fills["A"] == "C6EFCE" and fills["E"] == "D9D9D9"
    # a unit subtree
    _, rows = table(await build_export("rectification-ledger", ExportRequest(period="2026",
                                                                            unit="520103")))
    assert sorted(r["问题"] for r in rows) == ["D", "E", "F"]


async def test_overdue_list_worst_first(scene):
    _, rows = table(await build_export("rectification-overdue", ExportRequest(
        period="2026", options={"as_of": "2026-10-20"})))
    assert [(r["问题"], r["超期工作日"]) for r in rows] == [("F", 10), ("C", 7)]
    assert rows[0]["责任单位"] == "云岩区(520103)"


async def test_unit_summary(scene):
    header, rows = table(await build_export("rectification-unit-summary",
                                            ExportRequest(period="2026")))
    assert header == ["单位", "单位代码", "受理", "按期办结", "超期办结", "未办结", "超期未办结",
                      "按期办结率"]
    got = {r["单位代码"]: [r[h] for h in header[2:]] for r in rows}
    assert got["520102"] == [3, 1, 1, 1, 1, pytest.approx(1 / 3)]
    assert got["520103"] == [2, 0, 0, 2, 1, 0]
    assert rows[-1]["单位"] == "合计" and [rows[-1][h] for h in header[2:]] == [
        5, 1, 1, 3, 2, 0.25]


async def test_unit_officer_export_is_narrowed_to_their_subtree(scene, people):
    from core.errors import Forbidden

    user = people["yy"].user
    _, rows = table(await build_export("rectification-ledger", ExportRequest(period="2026"),
                                       user=user))
    assert sorted(r["问题"] for r in rows) == ["D", "E", "F"]
    with pytest.raises(Forbidden):
        await build_export("rectification-ledger", ExportRequest(period="2026", unit="520102"),
                           user=user)


async def test_indicator_values(scene):
    units = ["520100", "520102", "520103", "520102001"]
    assert await queries.on_time_rate("2026", units) == {
        "520100": 25.0, "520102": 33.33, "520103": 0.0, "520102001": 50.0}
    assert await queries.overdue_count("2026", units) == {
        "520100": 3.0, "520102": 2.0, "520103": 1.0, "520102001": 1.0}
    # A: (09-30, 10-12] = 4 working days, B: (09-30, 10-14] = 6
    assert await queries.avg_days_to_close("2026", units) == {
        "520100": 5.0, "520102": 5.0, "520103": None, "520102001": 5.0}
    assert await queries.avg_satisfaction("2026", units) == {
        "520100": 80.0, "520102": 80.0, "520103": None, "520102001": 80.0}
    assert await queries.on_time_rate("2013", ["520100", "nope"]) == {"520100": None,
                                                                     "nope": None}


async def test_a_shorter_period_takes_the_tasks_registered_in_it(scene):
    """Tasks are filed under the year; a half-year or quarter ranking takes those registered
    on its days, and a period of none of them has no value."""
    from core import clock
    from core.orgs import Period

    days = {t.registered_at.astimezone(clock.tz()).date() for t in scene.values()}
    year = await Period.get(code="2026")
    holding = min(days).replace(day=1)
    await Period.create(code="2026X1", kind="month", start=holding,
                        end=max(days) + dt.timedelta(days=1))
    await Period.create(code="2026X2", kind="month", start=year.start,
                        end=min(days) - dt.timedelta(days=1))
    units = ["520100", "520102", "520103"]
    assert await queries.on_time_rate("2026X1", units) == await queries.on_time_rate("2026", units)
    assert await queries.overdue_count("2026X2", units) == {u: 0.0 for u in units}
    assert await queries.on_time_rate("2026X2", units) == {u: None for u in units}
    assert await queries.on_time_rate("nope", units) == {u: None for u in units}


async def test_indicator_sources_are_contributed(host):
    keys = {s.key for _, s in host.collect("kaohe_indicator_sources")}
    assert {"rectification.on_time_rate", "rectification.overdue_count",
            "rectification.avg_days_to_close", "rectification.avg_satisfaction"} <= keys


async def test_cli_export(scene, settings, tmp_path):
    out = tmp_path / "ledger.xlsx"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "core", "--settings", str(settings.source), "export",
        "rectification-overdue", "--period", "2026", "--unit", "520103", "-o", str(out),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await proc.communicate()
    assert proc.returncode == 0, stderr.decode()
    _, rows = table(out.read_bytes())
    assert [r["问题"] for r in rows] == ["F"]


def _workbook(rows: list[list]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["考核期", "问题来源", "问题类别", "严重程度", "问题标题", "问题描述", "责任单位代码",
               "责任人"])
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


async def test_bulk_registration_preview_and_confirm(people):
    from core.uploads import UploadRejected
    from plugins.rectification import importer

    good = [["2026", "网格上报", "综合", "紧急", "路灯不亮", "", "520102001", "李四"],
            ["2026", "hotline_12319", "general", "一般", "噪音扰民", "夜间施工", "520103", ""]]
    ctx = {"user": people["admin"].user, "filename": "tasks.xlsx"}
    preview = await importer.preview(_workbook(good), ctx)
    assert not preview.errors and len(preview.create) == 2
    # Read as codes, shown by their names (the second row typed the codes themselves).
    assert preview.create[0]["values"]["source"] == "网格上报"
    assert preview.create[0]["values"]["severity"] == "紧急"
    assert preview.create[1]["values"]["category"] == "综合"
    assert preview.create[1]["values"]["source"] != "hotline_12319"
    bad = good + [["2013", "网格上报", "综合", "紧急", "旧问题", "", "520102", ""],
                  ["2026", "微博", "综合", "紧急", "x", "", "999999", ""]]
    preview = await importer.preview(_workbook(bad), ctx)
    where = {(e.row, e.column) for e in preview.errors}
    assert (4, "A") in where and (5, "B") in where and (5, "G") in where
    with pytest.raises(UploadRejected):
        await importer.confirm(_workbook(bad), ctx)
    assert await Task.all().count() == 0  # nothing half-written
    result = await importer.confirm(_workbook(good), ctx)
    assert result["created"] == 2
    tasks = await Task.all().order_by("id").select_related("unit")
    assert [(t.title, t.unit.code, t.status) for t in tasks] == [
        ("路灯不亮", "520102001", "registered"), ("噪音扰民", "520103", "registered")]
    template = await importer.template()
    assert sheet(template)[HEADER_ROW - 1][0] == "考核期"


async def test_bulk_registration_through_the_page(client, settings):
    from core.orgs import ensure_period
    from tests.conftest import login, make_user, seed_units

    await seed_units()
    await ensure_period("2026")
    await make_user("admin9", "admin")
    csrf = await login(client, "admin9")
    data = _workbook([["2026", "网格上报", "综合", "紧急", "路灯不亮", "", "520102001", "李四"]])
    r = await client.post("/imports/rectification-tasks", data={"_csrf": csrf},
                          files={"file": ("t.xlsx", data)}, headers={"accept": "text/html"})
    assert r.status_code == 200 and "路灯不亮" in r.text
    # The preview names the source, category and severity, not their codes.
    assert "网格上报" in r.text and "紧急" in r.text and ">grid<" not in r.text
    import re

    token = re.search(r'name="token" value="([^"]+)"', r.text).group(1)
    r = await client.post("/imports/rectification-tasks/confirm", data={"_csrf": csrf, "token": token})
    assert r.status_code in (302, 303)
    assert await Task.filter(title="路灯不亮").count() == 1
    r = await client.post("/imports/rectification-tasks/confirm", data={"_csrf": csrf, "token": token},
                          headers={"accept": "text/html"})
    assert r.status_code == 409 and await Task.all().count() == 1  # confirmed once only
    # The timeline's reason the platform wrote reads in the reader's language.
    task = await Task.get(title="路灯不亮")
    for lang, shown in (("zh", "Excel 批量登记"), ("en", "Registered in bulk from an Excel workbook")):
        client.cookies.set("lang", lang)
        r = await client.get(f"/rectification/tasks/{task.id}", headers={"accept": "text/html"})
        assert r.status_code == 200 and shown in r.text, r.text
        assert "Excel bulk registration" not in r.text


def test_definition_section_is_validated():
    from plugins.rectification.config import definition_from, validate

    assert validate({}) == []
    errors = validate({"deadline_days": {"urgent": 0, "minor": 3, "safety": {"urgent": "x"}},
                       "overdue_thresholds": [15, 1], "max_extensions": -1, "extra": 1,
                       "categories": [{"code": "a"}, {"code": "a"}]})
    text = "\n".join(errors)
    for path in ("rectification.deadline_days.urgent", "rectification.deadline_days.minor",
                 "rectification.deadline_days.safety", "rectification.overdue_thresholds",
                 "rectification.max_extensions", "rectification.extra",
                 "rectification.categories[1].code"):
        assert path in text, path
    d = definition_from({"rectification": {"deadline_days": {"urgent": 2, "x": {"general": 7}}}})
    assert d.working_days("urgent", "y") == 2 and d.working_days("general", "x") == 7
    assert d.working_days("serious", "x") == 10


def test_guiyang_definition_section_is_valid(host):
    from pathlib import Path

    from core import assessments

    text = Path("assessments/guiyang-2014.toml").read_text("utf-8")
    data = assessments.parse(text, host)
    from plugins.rectification.config import definition_from

    d = definition_from(data)
    assert d.deadline_days == {"urgent": 3, "serious": 10, "general": 20}
    assert d.overdue_thresholds == [1, 15, 30] and d.max_extensions == 2
    assert d.working_days("urgent", "public_security") == 1
