"""The ranking workbook, read back cell by cell with python-calamine."""

import io
import zipfile

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from core.contrib import ExportRequest
from core.errors import NotFound
from plugins.ranking import rankings
from tests.plugins.ranking.helpers import STUB_VALUES, apply, enter, scenario_values


def sheet(data: bytes, name: str) -> list[list]:
    return CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name(name).to_python()


async def published(host):
    await apply(host)
    STUB_VALUES.clear()
    await enter("2013", "districts", {("520102", "sat"): 60, ("520103", "sat"): 80,
                                      ("520111", "sat"): 70, ("520112", "sat"): 50})
    await rankings.publish((await rankings.compute("2013", "districts", "t")).id, "t",
                           confirm_missing=True)  # only 满意度 was entered for 2013
    await enter("2014", "districts", scenario_values())
    ranking = await rankings.compute("2014", "districts", "t")
    return await rankings.publish(ranking.id, "t")


async def test_ranking_workbook_sheets_cells_and_layout(db, host):
    from core.exports import build_export

    ranking = await published(host)
    data = await build_export("ranking", ExportRequest(period="2014", group="districts"))
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    assert book.sheet_names == ["排位汇总", "满意度", "治理", "原始数据", "指标体系", "说明"]

    summary = sheet(data, "排位汇总")
    assert summary[0][0] == "工作绩效排位 · 区（市、县）"
    assert "考核期 2014" in summary[1][0] and "已发布" in summary[1][0]
    header = summary[2]
    assert header[:6] == ["名次", "单位代码", "单位", "总分", "满意度（60）", "治理（40）"]
    rows = {r[1]: dict(zip(header, r, strict=False)) for r in summary[3:7]}
    assert [r[1] for r in summary[3:7]] == ["520102", "520111", "520103", "520112"]
    assert rows["520102"]["名次"] == 1 and rows["520102"]["总分"] == 100.0
    assert rows["520111"]["总分"] == 82.0 and rows["520112"]["治理（40）"] == 40.0
    # 2013: 520103 1st, 520111 2nd, 520102 3rd, 520112 4th.
    assert rows["520102"]["名次变化"] == "↑2" and rows["520103"]["名次变化"] == "↓2"
    assert rows["520111"]["名次变化"] == "—" and rows["520102"]["上期名次"] == 3
    assert rows["520102"]["标记"] == "前列" and rows["520112"]["标记"] == "末位"

    aspect = sheet(data, "治理")
    assert aspect[2] == ["方面名次", "单位代码", "单位", "总分名次", "治理得分", "案件数（50）",
                         "整改按期率（50）"]
    by_unit = {r[1]: r for r in aspect[3:7]}
    assert by_unit["520103"][1:] == ["520103", "云岩区", 3, 70.0, 50.0, 90.0]
    # The place on an aspect's sheet is the place by that aspect's score (ties share it,
    # the next is skipped), not the overall one; the sheet is in that order.
    differs = False
    for name, column in (("治理", "治理（40）"), ("满意度", "满意度（60）")):
        placed = sheet(data, name)[3:7]
        scores = {code: row[column] for code, row in rows.items()}
        expected = {code: 1 + sum(other > score for other in scores.values())
                    for code, score in scores.items()}
        assert {r[1]: r[0] for r in placed} == expected, name
        assert [r[0] for r in placed] == sorted(expected.values()), name
        differs = differs or any(r[0] != r[3] for r in placed)
    assert differs  # some unit's place on an aspect is not its overall place

    raw = sheet(data, "原始数据")
    assert raw[2][2] == "群众满意度（%）\n手工录入"
    assert raw[2][5] == "整改按期率（%）\n插件提供：整改按期率（测试）"
    assert raw[3][:6] == ["520102", "南明区", 84.0, 92.0, 10.0, 100.0]

    notes = {r[0]: r[1] for r in sheet(data, "说明")[1:] if len(r) > 1}
    assert notes["考核方案"] == "t-ranking 第1版"
    assert notes["输入数据SHA-256"] == ranking.inputs_sha256
    assert "四舍五入" in notes["计分"] and "1、2、2、4" in notes["名次"]

    methods = sheet(data, "指标体系")
    sat = [r for r in methods if r[1] == "sat"][0]
    assert sat[2] == "群众满意度（核心指标）" and sat[7] == 30.0  # 60 × 50 %

    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert any(n.startswith("xl/charts/chart") for n in z.namelist())
        sheet1 = z.read("xl/worksheets/sheet1.xml").decode()
        assert 'orientation="landscape"' in sheet1 and 'paperSize="9"' in sheet1
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb["排位汇总"]
    assert ws["A4"].fill.start_color.rgb.endswith("C6EFCE")   # top: green
    assert ws["A7"].fill.start_color.rgb.endswith("FFC7CE")   # bottom: red
    assert ws["A5"].fill.fill_type is None
    assert ws.print_title_rows == "$3:$3"


async def test_only_published_rankings_export_unless_a_draft_is_asked_for(db, host):
    from core.exports import build_export

    await apply(host)
    await enter("2014", "districts", scenario_values())
    await rankings.compute("2014", "districts", "t")
    with pytest.raises(NotFound) as info:
        await build_export("ranking", ExportRequest(period="2014", group="districts"))
    assert "no published ranking" in info.value.message
    data = await build_export("ranking", ExportRequest(period="2014", group="districts",
                                                       options={"draft": True}))
    assert "草稿" in sheet(data, "排位汇总")[1][0]


async def test_unit_narrows_the_rows_to_a_subtree(db, host):
    from core.exports import build_export

    await published(host)
    data = await build_export("ranking", ExportRequest(period="2014", group="districts",
                                                       unit="520103"))
    rows = sheet(data, "排位汇总")
    assert [r[1] for r in rows[3:]] == ["520103"] and rows[3][0] == 3  # keeps the city rank
    assert "单位 云岩区" in rows[1][0]


async def test_group_is_required(db, host):
    from core.errors import Invalid
    from core.exports import build_export

    await published(host)
    with pytest.raises(Invalid) as info:
        await build_export("ranking", ExportRequest(period="2014"))
    assert info.value.field == "group"


def test_big_rankings_stream_detail_rows_and_keep_user_text_safe():
    """Above WRITE_ONLY_FROM units the detail sheets are plain rows written past the kit's
    cell path: check the cells, the filter range, and that a unit name never runs as a formula."""
    import tomllib
    from decimal import Decimal as D

    from plugins.ranking import scoring
    from plugins.ranking.scheme import parse
    from plugins.ranking.workbook import WRITE_ONLY_FROM, RankingBook, write
    from tests.plugins.ranking.helpers import definition

    scheme = parse(tomllib.loads(definition())["ranking"], None)
    n = WRITE_ONLY_FROM + 5
    units = [(f"U{i:05d}", "=HYPERLINK(\"http://x\")" if i == 7 else f"单位{i}") for i in range(n)]
    values = {c: {"sat": D(60 + i % 40), "sec": D(85), "cases": D(i % 9), "rate": D(90)}
              for i, (c, _) in enumerate(units)}
    results = scoring.compute(scheme, units, values)
    num = scoring.num
    rows = [{"position": p, "unit_code": r.code, "unit_name": r.name, "rank": r.rank,
             "total": num(r.total), "prev_rank": None, "prev_total": None, "flag": r.flag,
             "excluded": r.excluded, "missing": r.missing,
             "aspects": {k: num(v) for k, v in r.aspects.items()},
             "scores": {k: num(v) for k, v in r.scores.items()},
             "inputs": {k: {"v": num(values[r.code][k]), "s": "manual", "h": ""}
                        for k in values[r.code]}} for p, r in enumerate(results)]
    data = write(RankingBook(scheme, "2014", "g", "组", "final", rows))
    gov = sheet(data, "治理")
    assert len(gov) == 3 + n
    best = max(rows, key=lambda r: (r["aspects"]["gov"], -r["position"]))
    assert gov[3][:5] == [1.0, best["unit_code"], best["unit_name"], float(best["rank"]),
                          float(best["aspects"]["gov"])]
    raw = sheet(data, "原始数据")
    evil = [r for r in raw[3:] if r[0] == "U00007"][0]
    assert evil[1] == "=HYPERLINK(\"http://x\")"  # kept as text
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = {n: z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/")}
    assert not any("<f>" in xml for xml in names.values())  # no formula anywhere
    assert any(f'ref="A3:G{3 + n}"' in xml for xml in names.values())  # 治理: 7 columns


async def test_file_names_and_archive_titles_name_the_group(db, host):
    """Exports of a peer group are named by the group's name, never its key."""
    from core import exports

    await apply(host)
    exporter = exports.get_exporter("ranking", host)
    request = ExportRequest(period="2014", group="districts")
    name = await exports.group_name(exporter, request)
    assert name == "区（市、县）"
    filename = exports.default_filename(exporter, request, name)
    assert "区（市、县）" in filename and "districts" not in filename
