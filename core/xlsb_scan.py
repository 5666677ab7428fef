"""Where an .xlsb worksheet's cells land, read from its binary records as they stream past.

An .xlsb part is a run of BIFF12 records: a type (one or two bytes of seven bits) and a
length (up to four bytes of seven bits), then the record's data. python-calamine places a
cell at the row of the last row header (BrtRowHdr) and at the column its record names
(the first four bytes), and allocates the whole area between the cells it found, so a
tiny sheet with one cell in column 4,000,000,000 asks for more memory than any machine
has. Only the first bytes of a record matter here; the rest is skipped unread.
"""

from __future__ import annotations

import struct

ROW_HEADER = 0x0000
# The cell records python-calamine keeps (BrtCellBlank, 0x0001, it drops).
CELLS = frozenset(range(0x0002, 0x000C))
DIMENSION = 0x0094  # BrtWsDim: first row, last row, first column, last column
END_SHEET_DATA = 0x0092
SST_ITEM = 0x0013
BUNDLE_SHEET = 0x009C  # BrtBundleSh in workbook.bin: state, tab id, relationship id, name
# The reader stops a sheet at a row header beyond Excel's last row.
READER_LAST_ROW = 0x0010_0000
HEAD = 16  # bytes of a record's data kept: enough for BrtWsDim


class Broken(Exception):
    """The part is not a run of records (a length running past the end, a cut header)."""


def records(data: bytes):
    """(type, data) of every record of a small part held in memory (workbook.bin)."""
    scan = RecordStream(keep=None)
    scan.feed(data)
    scan.finish()
    return scan.found


class RecordStream:
    """Splits a stream fed in chunks into records; calls `on_record(type, head)` with the
    first HEAD bytes of each record's data (all of it when `keep` is None)."""

    def __init__(self, on_record=None, keep: int | None = HEAD) -> None:
        self._buf = b""
        self._skip = 0
        self._keep = keep
        self._pending: tuple[int, int, bytearray] | None = None  # type, bytes left, head
        self.found: list[tuple[int, bytes]] = []
        self._on = on_record or (lambda typ, head: self.found.append((typ, head)))

    def feed(self, chunk: bytes) -> None:
        buf = self._buf + chunk if self._buf else chunk
        end = len(buf)
        pos = 0
        if self._pending is not None:  # a record begun in an earlier chunk
            typ, left, head = self._pending
            pos = min(left, end)
            head += buf[:pos if self._keep is None else max(0, min(pos, self._keep - len(head)))]
            if left > pos:
                self._pending, self._buf = (typ, left - pos, head), b""
                return
            self._pending = None
            self._on(typ, bytes(head))
        while (header := _header(buf, pos, end)) is not None:
            typ, length, start = header
            stop = start + length
            cut = stop if self._keep is None else min(stop, start + self._keep)
            if stop > end:
                self._pending = (typ, stop - end, bytearray(buf[start:min(cut, end)]))
                pos = end
                break
            self._on(typ, buf[start:cut])
            pos = stop
        self._buf = buf[pos:]

    def finish(self) -> None:
        if self._pending is not None or self._buf:
            raise Broken("record cut short")


def _header(buf: bytes, pos: int, end: int) -> tuple[int, int, int] | None:
    """(type, length, data start) of the record at pos, or None when its header is cut."""
    if pos >= end:
        return None
    b = buf[pos]
    typ = b & 0x7F
    pos += 1
    if b & 0x80:
        if pos >= end:
            return None
        typ |= (buf[pos] & 0x7F) << 7
        pos += 1
    length = 0
    for i in range(4):
        if pos >= end:
            return None
        b = buf[pos]
        pos += 1
        length |= (b & 0x7F) << (7 * i)
        if not b & 0x80:
            break
    return typ, length, pos


class XlsbSheetScan:
    """rows, columns (the area from A1 the reader will allocate), cells, and the declared
    dimension of one worksheet part, with the interface of core.sheet_scan.SheetScan."""

    def __init__(self) -> None:
        self.rows = 0
        self.columns = 0
        self.cells = 0
        self.declared: tuple[int, int] | None = None
        self.declared_ref = ""
        self._row = 0
        self._ended = False
        self._stream = RecordStream(self._record)

    def feed(self, chunk: bytes) -> None:
        self._stream.feed(chunk)

    def finish(self) -> None:
        self._stream.finish()

    def _record(self, typ: int, head: bytes) -> None:
        if self._ended:
            return
        if typ == ROW_HEADER:
            if len(head) < 4:
                raise Broken("row header too short")
            self._row = struct.unpack_from("<I", head)[0]
            if self._row > READER_LAST_ROW:
                self._ended = True  # the reader stops the sheet here
        elif typ in CELLS:
            if len(head) < 4:
                raise Broken("cell record too short")
            col = struct.unpack_from("<I", head)[0]
            self.cells += 1
            self.rows = max(self.rows, self._row + 1)
            self.columns = max(self.columns, col + 1)
        elif typ == DIMENSION and self.declared is None and len(head) >= 16:
            first_row, last_row, first_col, last_col = struct.unpack_from("<4I", head)
            self.declared = (last_row + 1, last_col + 1)
            self.declared_ref = f"R{first_row + 1}C{first_col + 1}:R{last_row + 1}C{last_col + 1}"
        elif typ == END_SHEET_DATA:
            self._ended = True


class XlsbStringCount:
    """Counts the shared strings (BrtSSTItem records) of sharedStrings.bin."""

    def __init__(self) -> None:
        self.count = 0
        self._stream = RecordStream(self._record, keep=0)

    def feed(self, chunk: bytes) -> None:
        self._stream.feed(chunk)

    def finish(self) -> None:
        self._stream.finish()

    def _record(self, typ: int, head: bytes) -> None:
        if typ == SST_ITEM:
            self.count += 1


def wide_string(data: bytes, pos: int) -> tuple[str | None, int]:
    """An XLWideString (four-byte length in characters, UTF-16LE) at pos; None for the null
    string (length 0xFFFFFFFF). Raises Broken when it runs past the data."""
    if pos + 4 > len(data):
        raise Broken("string length cut")
    n = struct.unpack_from("<I", data, pos)[0]
    pos += 4
    if n == 0xFFFF_FFFF:
        return None, pos
    if pos + 2 * n > len(data):
        raise Broken("string cut")
    return data[pos:pos + 2 * n].decode("utf-16-le", "replace"), pos + 2 * n


def bundled_sheets(workbook_bin: bytes) -> list[tuple[int, str | None, str]]:
    """(state, relationship id, name) of each sheet workbook.bin lists (BrtBundleSh)."""
    out = []
    for typ, data in records(workbook_bin):
        if typ != BUNDLE_SHEET:
            continue
        if len(data) < 8:
            raise Broken("sheet record too short")
        state = struct.unpack_from("<I", data)[0]
        rel, pos = wide_string(data, 8)
        name, _ = wide_string(data, pos)
        out.append((state, rel, name or ""))
    return out
