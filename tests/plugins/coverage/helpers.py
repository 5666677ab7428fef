"""Workbook helpers for coverage tests: fill a downloaded template like a person would."""

from __future__ import annotations

import io
from typing import Any

import openpyxl
from python_calamine import CalamineWorkbook

from core.xlsx import FIRST_DATA_ROW, HEADER_ROW


def fill(data: bytes, rows: dict[str, dict[str, Any]], extra: list[dict[str, Any]] = ()) -> bytes:
    """Set cells by header title in the rows keyed by credit code; append `extra` rows."""
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb.worksheets[0]
    headers = {c.value: c.column for c in ws[HEADER_ROW] if c.value}
    r = FIRST_DATA_ROW
    while ws.cell(r, 1).value:
        code = ws.cell(r, 1).value
        for header, value in rows.get(code, {}).items():
            ws.cell(r, headers[header], value)
        r += 1
    for values in extra:
        for header, value in values.items():
            ws.cell(r, headers[header], value)
        r += 1
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def grid(data: bytes, sheet: int | str = 0) -> list[list[Any]]:
    """Read a workbook back with python-calamine (a second reader, not openpyxl)."""
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    name = book.sheet_names[sheet] if isinstance(sheet, int) else sheet
    return book.get_sheet_by_name(name).to_python()


REPORT = {"党员总数": 5, "正式党员": 4, "预备党员": 1, "走访次数": 2, "开展活动次数": 1}
