"""Indicator values uploaded as offices type them: full-width figures and thousands
separators read by the platform's cell parser, Chinese messages, and a repeated unit row
refused as a row of its own instead of lending its number to the first row's values."""

import io
from decimal import Decimal as D

import openpyxl

from core.import_flow import ImportContext
from plugins.ranking import models
from tests.conftest import make_user
from tests.plugins.ranking.helpers import apply


async def _ctx(host, settings):
    await apply(host)
    [importer] = [i for p, i in host.collect("kaohe_importers") if i.name == "ranking-values"]
    ctx = ImportContext(user=await make_user("imp", "admin"), settings=settings,
                        filename="v.xlsx", fields={"period": "2014", "group": "districts"})
    return importer, ctx


def _fill(template: bytes, edits) -> bytes:
    wb = openpyxl.load_workbook(io.BytesIO(template))
    ws = wb["指标数据"]
    header = [c.value for c in ws[3]]
    for row, title, value in edits:
        ws.cell(row, header.index(title) + 1).value = value
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


async def test_full_width_and_grouped_figures_are_numbers(db, host, settings):
    importer, ctx = await _ctx(host, settings)
    data = _fill(await importer.template(ctx), [(4, "群众满意度", "８５．５"), (5, "案件数", "1,234")])
    preview = await importer.preview(data, ctx)
    assert preview.errors == []
    await importer.confirm(data, ctx)
    stored = {(v.unit_code, v.indicator): D(v.value) for v in await models.IndicatorValue.all()}
    assert stored == {("520102", "sat"): D("85.5"), ("520103", "cases"): D(1234)}


async def test_bad_figures_are_named_in_chinese(db, host, settings):
    importer, ctx = await _ctx(host, settings)
    data = _fill(await importer.template(ctx), [(4, "群众满意度", "八十五"), (5, "群众满意度", "１２０")])
    preview = await importer.preview(data, ctx)
    assert [(e.row, e.header, e.message) for e in preview.errors] == [
        (4, "群众满意度", "应为数字，实际为“八十五”"),
        (5, "群众满意度", "120 超出允许范围 0–100"),
    ]


async def test_a_repeated_unit_row_is_a_row_error_and_values_keep_their_row(db, host, settings):
    importer, ctx = await _ctx(host, settings)
    template = await importer.template(ctx)
    wb = openpyxl.load_workbook(io.BytesIO(template))
    ws = wb["指标数据"]
    header = [c.value for c in ws[3]]
    sat = header.index("群众满意度") + 1
    last = ws.max_row
    ws.cell(4, sat).value = 80
    ws.cell(last + 1, 1).value = ws.cell(4, 1).value  # the first unit again, below the others
    ws.cell(last + 1, sat).value = 95
    buf = io.BytesIO()
    wb.save(buf)
    unit = ws.cell(4, 1).value
    preview = await importer.preview(buf.getvalue(), ctx)
    assert [(e.row, e.column, e.message) for e in preview.errors] == [
        (last + 1, "A", f"与第 4 行重复（单位代码 {unit}），本行未导入")]
    # The value shown is row 4's own, under row 4 (it was shown under the repeated row).
    [item] = [c for c in preview.create if c["values"]["unit_code"] == unit]
    assert item["row"] == 4 and item["values"]["values"] == "群众满意度=80"
