"""Bulk registration words its row errors through the catalog (Chinese by default, English
on request) and reads unit codes typed with spaces like the other importers."""

import io

import openpyxl
import pytest

from core.uploads import UploadRejected
from plugins.rectification import importer
from plugins.rectification.models import Task

HEADER = ["考核期", "问题来源", "问题类别", "严重程度", "问题标题", "问题描述", "责任单位代码（代码）",
          "责任人"]


def _workbook(rows: list[list]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


async def test_row_errors_are_chinese_and_codes_may_hold_spaces(people):
    rows = [["2026", "网格上报", "综合", "紧急", "路灯不亮", "", "520 102 001", "李四"],
            ["2013", "网格上报", "综合", "紧急", "旧问题", "", "520102", ""],
            ["2026", "网格上报", "综合", "紧急", "无此单位", "", "999999", ""]]
    ctx = {"user": people["admin"].user, "filename": "tasks.xlsx"}
    preview = await importer.preview(_workbook(rows), ctx)
    assert {(e.row, e.column, e.message) for e in preview.errors} == {
        (3, "A", "考核期“2013”已关闭，不能再登记"), (4, "G", "没有代码为“999999”的单位")}
    assert preview.create[0]["values"]["unit"] == "520102001"
    assert preview.summary == "可导入 1 行，2 处错误"
    with pytest.raises(UploadRejected, match="有 2 处错误，未导入任何内容"):
        await importer.confirm(_workbook(rows), ctx)
    assert await Task.all().count() == 0
    english = await importer.preview(_workbook(rows), {**ctx, "lang": "en"})
    assert {e.message for e in english.errors} == {'period "2013" is closed',
                                                   'no org unit with code "999999"'}
