"""Hostile .xls, .xlsb, .ods and CSV uploads, each made from a real file by changing a few
bytes or one part (tests and bench/bench_hostile.py upload the same files).

The .xls builders patch the Workbook stream of a LibreOffice-made file in place (same
length, so the compound file stays sound) or the compound file's own tables; the .xlsb
builders rewrite records of an Excel-made sheet; the .ods builders edit content.xml.
"""

from __future__ import annotations

import io
import struct
import zipfile

import olefile

from tests.core.hostile import replace_part

# -- .xls -------------------------------------------------------------------------------------
SECTOR = 512


def _stream_offsets(data: bytes, name: str = "Workbook") -> list[int]:
    """File offset of every byte of a (regular-sector) stream, in stream order."""
    ole = olefile.OleFileIO(data)
    entry = next(e for e in ole.direntries if e is not None and e.name == name)
    assert entry.size >= 4096, "small streams live in the mini stream"
    sect, out = entry.isectStart, []
    while sect != olefile.ENDOFCHAIN and len(out) < entry.size:
        base = (sect + 1) * ole.sectorsize
        out.extend(range(base, base + ole.sectorsize))
        sect = ole.fat[sect]
    return out[:entry.size]


def workbook_stream(data: bytes) -> bytes:
    return olefile.OleFileIO(data).openstream("Workbook").read()


def _patch_stream(data: bytes, at: int, new: bytes) -> bytes:
    offsets = _stream_offsets(data)
    out = bytearray(data)
    for i, b in enumerate(new):
        out[offsets[at + i]] = b
    return bytes(out)


def _records(stream: bytes):
    pos = 0
    while pos + 4 <= len(stream):
        typ, length = struct.unpack_from("<HH", stream, pos)
        yield typ, pos + 4, length
        pos += 4 + length


def _first(stream: bytes, types: tuple[int, ...], after: int = 0) -> tuple[int, int, int]:
    return next(r for r in _records(stream) if r[0] in types and r[1] > after)


def _first_sheet(stream: bytes) -> int:
    _, start, _ = _first(stream, (0x0085,))
    return struct.unpack_from("<I", stream, start)[0]


def xls_lying_dimensions(data: bytes, rows: int = 50_000_000, columns: int = 255) -> bytes:
    """The first sheet's DIMENSIONS claims rows × columns: the reader reserves that many
    cells before reading one."""
    stream = workbook_stream(data)
    _, start, length = _first(stream, (0x0200,), _first_sheet(stream))
    assert length == 14
    return _patch_stream(data, start, struct.pack("<IIHH", 0, rows, 0, columns))


def xls_far_cell(data: bytes, row: int = 65_535, column: int = 16_383) -> bytes:
    """The first text cell of the first sheet moves to (row, column), one-based: the reader
    allocates the area between it and the other cells."""
    stream = workbook_stream(data)
    _, start, _ = _first(stream, (0x00FD, 0x0204), _first_sheet(stream))
    return _patch_stream(data, start, struct.pack("<HH", row - 1, column - 1))


def xls_sheet_past_stream(data: bytes) -> bytes:
    """The first sheet's stream position points past the end of the stream."""
    stream = workbook_stream(data)
    _, start, _ = _first(stream, (0x0085,))
    return _patch_stream(data, start, struct.pack("<I", len(stream) + 10_000))


def _fat_offset(data: bytes, sect: int) -> int:
    """File offset of the FAT entry of `sect` (the first 109 FAT sectors: header DIFAT)."""
    per = SECTOR // 4
    fat_sector = struct.unpack_from("<I", data, 76 + 4 * (sect // per))[0]
    return (fat_sector + 1) * SECTOR + 4 * (sect % per)


def xls_directory_loop(data: bytes) -> bytes:
    """The directory's sector chain points back at itself: the reader follows it without
    end, growing its buffer."""
    first_dir = struct.unpack_from("<I", data, 48)[0]
    out = bytearray(data)
    struct.pack_into("<I", out, _fat_offset(data, first_dir), first_dir)
    return bytes(out)


def xls_difat_loop(data: bytes) -> bytes:
    """The header names a DIFAT sector whose next pointer is itself."""
    out = bytearray(data)
    last = len(data) // SECTOR - 2  # the last whole sector of the file
    struct.pack_into("<I", out, 68, last)           # first DIFAT sector
    struct.pack_into("<I", out, 72, 1)              # one DIFAT sector
    struct.pack_into("<I", out, (last + 1) * SECTOR + SECTOR - 4, last)
    return bytes(out)


def xls_huge_fat_count(data: bytes) -> bytes:
    """The header claims four billion FAT sectors (the reader reserves room for them)."""
    out = bytearray(data)
    struct.pack_into("<I", out, 44, 0xFFFF_FFF0)
    return bytes(out)


# -- .xlsb ------------------------------------------------------------------------------------
def record(typ: int, body: bytes) -> bytes:
    head = bytes([typ & 0x7F | (0x80 if typ > 0x7F else 0)]) + (
        bytes([typ >> 7]) if typ > 0x7F else b"")
    n, size = len(body), b""
    while True:
        byte, n = n & 0x7F, n >> 7
        size += bytes([byte | (0x80 if n else 0)])
        if not n:
            break
    return head + size + body


def xlsb_sheet(cells: list[tuple[int, int, float]], dimension: tuple[int, int, int, int] = (0, 0, 0, 0)
               ) -> bytes:
    """A worksheet part: BrtBeginSheet, BrtWsDim, BrtBeginSheetData, rows of BrtCellReal."""
    out = record(0x0081, b"") + record(0x0094, struct.pack("<4I", *dimension))
    out += record(0x0091, b"")
    for row, col, value in cells:
        out += record(0x0000, struct.pack("<I", row) + b"\x00" * 13)
        out += record(0x0005, struct.pack("<IIBd", col, 0, 0, value)[:16])
    return out + record(0x0092, b"") + record(0x0082, b"")


def xlsb_far_column(data: bytes, column: int = 4_000_000_000) -> bytes:
    return replace_part(data, "xl/worksheets/sheet1.bin",
                        xlsb_sheet([(0, 0, 1.0), (1, column, 2.0)]))


def xlsb_far_row(data: bytes, row: int = 1_000_000, column: int = 16_000) -> bytes:
    return replace_part(data, "xl/worksheets/sheet1.bin",
                        xlsb_sheet([(0, 0, 1.0), (row, column, 2.0)]))


def xlsb_lying_dimension(data: bytes) -> bytes:
    return replace_part(data, "xl/worksheets/sheet1.bin",
                        xlsb_sheet([(0, 0, 1.0)], (0, 1_048_575, 0, 16_383)))


def xlsb_zip_bomb(data: bytes, megabytes: int = 200) -> bytes:
    one = record(0x0000, b"\x00" * 17) + record(0x0001, b"\x00" * 8)
    body = one * (megabytes * 1024 * 1024 // len(one))
    return replace_part(data, "xl/worksheets/sheet1.bin", body)


def xlsb_cut_record(data: bytes) -> bytes:
    """A record whose length runs past the end of the part."""
    return replace_part(data, "xl/worksheets/sheet1.bin",
                        record(0x0081, b"") + b"\x05\xff\xff\xff\x0f" + b"\x00" * 10)


def xlsb_sheet_without_part(data: bytes) -> bytes:
    """workbook.bin names a relationship the package does not have (the reader panics)."""
    rels = "xl/_rels/workbook.bin.rels"
    body = zipfile.ZipFile(io.BytesIO(data)).read(rels).replace(b'Id="rId1"', b'Id="rId99"')
    return replace_part(data, rels, body)


# -- .ods -------------------------------------------------------------------------------------
def _content(data: bytes) -> bytes:
    return zipfile.ZipFile(io.BytesIO(data)).read("content.xml")


def _ods_with_rows(data: bytes, rows: bytes) -> bytes:
    """content.xml with `rows` added after the first table's last row."""
    body = _content(data)
    end = body.index(b"</table:table>")
    return replace_part(data, "content.xml", body[:end] + rows + body[end:], level=9)


CELL_X = b'<table:table-cell office:value-type="string"><text:p>x</text:p></table:table-cell>'


def ods_repeated_rows(data: bytes, rows: int = 1_000_000) -> bytes:
    """One row with content, repeated a million times (a few bytes in the file)."""
    return _ods_with_rows(data, b'<table:table-row table:number-rows-repeated="%d">' % rows
                          + CELL_X + b"</table:table-row>")


def ods_sparse(data: bytes, rows: int = 1_000_000, columns: int = 16_000) -> bytes:
    """A million empty rows, then one cell in column 16,000: the sparse sheet in 300 bytes."""
    return _ods_with_rows(
        data, b'<table:table-row table:number-rows-repeated="%d"><table:table-cell/>'
        b"</table:table-row><table:table-row>" % rows
        + b'<table:table-cell table:number-columns-repeated="%d"/>' % (columns - 1)
        + CELL_X + b"</table:table-row>")


def ods_wide_repeat(data: bytes, columns: int = 16_384, rows: int = 200) -> bytes:
    """A value repeated across 16,384 columns in rows repeated 200 times."""
    return _ods_with_rows(data, b'<table:table-row table:number-rows-repeated="%d">' % rows
                          + CELL_X.replace(b"<table:table-cell ", b'<table:table-cell table:'
                                           b'number-columns-repeated="%d" ' % columns)
                          + b"</table:table-row>")


def ods_zip_bomb(data: bytes, megabytes: int = 200) -> bytes:
    row = b"<table:table-row>" + CELL_X + b"</table:table-row>"
    return _ods_with_rows(data, row * (megabytes * 1024 * 1024 // len(row)))


def ods_entity_bomb(data: bytes) -> bytes:
    from tests.core.hostile import LOL

    return replace_part(data, "content.xml", LOL)


# -- any ---------------------------------------------------------------------------------------
def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def csv_rows(rows: int, header: str = "统一社会信用代码,名称,类别,社区代码") -> bytes:
    return (header + "\n" + "x,y,z,w\n" * rows).encode()
