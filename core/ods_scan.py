"""Where an .ods table's cells land, read from content.xml as it streams past.

OpenDocument compresses runs: `table:number-rows-repeated` and
`table:number-columns-repeated` say how often a row or a cell repeats, so a file of a few
kilobytes may declare a million rows of a thousand cells. python-calamine expands every
repeat between the first and the last cell that holds something, so the area counted here
is that of the cells with content (a value, a formula or child elements), repeats
included, from A1 as the kit reads it. Empty cells and rows (LibreOffice writes the rest of
each row and sheet as one repeated empty cell or row) cost nothing and count nothing.
The reader matches these names with their usual `table:` prefix, and so does the scan.
"""

from __future__ import annotations

import re

from core.sheet_scan import MAX_TAG, TagTooLong

_TAG = re.compile(rb"<(/?)table:(table|table-row|table-cell|covered-table-cell)(?=[\s/>])"
                  rb"((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>")
_ROWS = re.compile(rb"table:number-rows-repeated\s*=\s*[\"']\s*(\d+)")
_COLS = re.compile(rb"table:number-columns-repeated\s*=\s*[\"']\s*(\d+)")
_NAME = re.compile(rb"table:name\s*=\s*\"([^\"]*)\"|table:name\s*=\s*'([^']*)'")
# A self-closing cell with one of these attributes still holds a value.
_VALUE = re.compile(rb"office:(?:value|date-value|time-value|boolean-value|string-value)"
                    rb"\s*=|table:formula\s*=")


class Table:
    def __init__(self, name: str) -> None:
        self.name = name
        self.rows = 0      # rows from A1 down to the last one with content, repeats included
        self.columns = 0
        self.cells = 0     # cells with content, repeats included
        self.declared: tuple[int, int] | None = None  # the scan interface of SheetScan
        self.declared_ref = ""
        self._next_row = 0
        self._row_start = 0
        self._row_repeat = 1
        self._row_used = False
        self._col = 0

    def row(self, attrs: bytes, closed: bool) -> None:
        m = _ROWS.search(attrs)
        self._row_start, self._row_repeat = self._next_row, int(m.group(1)) if m else 1
        self._row_used, self._col = False, 0
        if closed:
            self.end_row()

    def end_row(self) -> None:
        if self._row_used:
            self.rows = max(self.rows, self._row_start + self._row_repeat)
        self._next_row = self._row_start + self._row_repeat
        self._row_repeat, self._row_used = 1, False

    def cell(self, attrs: bytes, closed: bool) -> None:
        m = _COLS.search(attrs)
        repeat = int(m.group(1)) if m else 1
        if not closed or _VALUE.search(attrs):
            self._row_used = True
            self.columns = max(self.columns, self._col + repeat)
            self.cells += repeat * self._row_repeat
        self._col += repeat


class OdsScan:
    """Feed content.xml in chunks; `tables` lists every table met, in order."""

    def __init__(self) -> None:
        self.tables: list[Table] = []
        self._open: list[Table] = []
        self._tail = b""

    def feed(self, chunk: bytes) -> None:
        buf = self._tail + chunk
        lt = buf.rfind(b"<")
        if lt == -1:
            self._tail = b""
        else:
            self._tail = buf[lt:]
            buf = buf[:lt]
            if len(self._tail) > MAX_TAG:
                if self._tail.startswith(b"<table:"):
                    raise TagTooLong()
                self._tail = b""  # text, which holds no "<" of its own
        self._piece(buf)

    def finish(self) -> None:
        self._piece(self._tail)
        self._tail = b""

    def _piece(self, buf: bytes) -> None:
        for m in _TAG.finditer(buf):
            end, name, attrs = m.group(1), m.group(2), m.group(3)
            closed = attrs.endswith(b"/")
            table = self._open[-1] if self._open else None
            if name == b"table":
                if end:
                    if self._open:
                        self._open.pop()
                elif not closed:
                    found = _NAME.search(attrs)
                    label = (found.group(1) or found.group(2) or b"") if found else b""
                    self._open.append(Table(label.decode("utf-8", "replace")))
                    self.tables.append(self._open[-1])
            elif table is None:
                continue
            elif name == b"table-row":
                if end:
                    table.end_row()
                else:
                    table.row(attrs, closed)
            elif not end:
                table.cell(attrs, closed)
