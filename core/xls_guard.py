"""Checks a legacy Excel workbook (.xls: BIFF records in an OLE2 compound file) passes
before python-calamine opens it.

python-calamine parses every sheet of an .xls when it opens the file, and believes what
the file says: it follows sector chains until they end (a chain that loops grows memory
without end), reserves room for the area a sheet's DIMENSIONS record declares, and
allocates the area between the cells it found (a cell at row 65,536 and column 65,536 is
four billion cells). An allocation that fails aborts the process. So the compound file is
read first with olefile (strict about defects), every chain the reader will follow is
walked once without revisiting a sector, and the Workbook stream's records are walked for
each sheet's declared dimension and the position of every cell record the reader keeps.
"""

from __future__ import annotations

import struct

from core import i18n
from core.sheet_scan import column_letter
from core.upload_format import UploadRejected

ENDOFCHAIN = 0xFFFF_FFFE
FREESECT = 0xFFFF_FFFF
RESERVED = 0xFFFF_FFFA  # ids from here on are markers, not sectors
DIFSECT = 0xFFFF_FFFC
# The reader looks for its stream under these names, in this order.
STREAMS = ("Workbook", "Book", "WORKBOOK", "BOOK")
# The reader reserves room for this many DIFAT entries, read from the header (bytes 62-66).
MAX_DIFAT_RESERVE = 1 << 20
MINI_CUTOFF = 4096  # the reader's own, whatever the header says

BOF, EOF, BOUNDSHEET, FILEPASS, SST, DIMENSIONS = 0x0809, 0x000A, 0x0085, 0x002F, 0x00FC, 0x0200
MULRK = 0x00BD
# Cell records the reader keeps; each begins with row and column (two bytes each).
CELL_RECORDS = frozenset((0x0203, 0x0204, 0x00D6, 0x0205, 0x027E, 0x00FD, 0x0006))


class XlsScan:
    """One sheet as the reader will see it: the scan interface of core.sheet_scan."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.rows = 0
        self.columns = 0
        self.cells = 0
        self.declared: tuple[int, int] | None = None
        self.declared_ref = ""

    def cell(self, row: int, last_column: int) -> None:
        self.cells += 1
        if row + 1 > self.rows:
            self.rows = row + 1
        if last_column + 1 > self.columns:
            self.columns = last_column + 1


def _corrupt(lang: str, detail: str) -> UploadRejected:
    return UploadRejected("upload_corrupt", i18n.t("upload.corrupt", lang, detail=detail))


def check(data: bytes, filename: str, lang: str = i18n.DEFAULT) -> list[XlsScan]:
    """The sheets of a sound .xls with where their cells land, or UploadRejected."""
    stream = workbook_stream(data, filename, lang)
    return scan_biff(stream, filename, lang)


def workbook_stream(data: bytes, filename: str, lang: str = i18n.DEFAULT) -> bytes:
    import olefile

    t = i18n.t
    try:
        ole = olefile.OleFileIO(data, raise_defects=olefile.DEFECT_INCORRECT)
    except Exception as exc:  # olefile raises OSError and plain exceptions for defects
        raise _corrupt(lang, f"OLE2: {exc}") from None
    try:
        entries = {e.name: e for e in ole.direntries if e is not None}
        entry = next((entries[n] for n in STREAMS if n in entries), None)
        if entry is None:
            code, key = (("upload_encrypted", "upload.format.encrypted")
                         if "EncryptedPackage" in entries
                         else ("upload_not_workbook", "upload.format.not_excel"))
            raise UploadRejected(code, t(key, lang, filename=filename))
        _chains(ole, data, entry, lang)
        return ole.openstream([entry.name]).read()
    except UploadRejected:
        raise
    except Exception as exc:
        raise _corrupt(lang, f"OLE2: {exc}") from None
    finally:
        ole.close()


def _chains(ole, data: bytes, entry, lang: str) -> None:
    """Every chain the reader follows ends, inside the file, without a loop."""
    size = ole.sectorsize
    sectors = max(0, len(data) // size - 1)
    header = data[:512]
    if ole.minisectorcutoff != MINI_CUTOFF:
        raise _corrupt(lang, f"OLE2: mini stream cutoff {ole.minisectorcutoff}")
    if ole.num_fat_sectors > sectors or ole.num_difat_sectors > sectors:
        raise _corrupt(lang, "OLE2: more FAT sectors than the file holds")
    if struct.unpack_from("<I", header, 62)[0] > MAX_DIFAT_RESERVE:
        raise _corrupt(lang, "OLE2: DIFAT size")
    # The DIFAT chain: the last entry of each DIFAT sector names the next one.
    seen: set[int] = set()
    sect = ole.first_difat_sector
    while sect < RESERVED:
        if sect in seen or sect >= sectors:
            raise _corrupt(lang, "OLE2: DIFAT chain loops or leaves the file")
        seen.add(sect)
        start = (sect + 1) * size
        sect = struct.unpack_from("<I", data, start + size - 4)[0]
    fat = ole.fat
    _walk(fat, ole.first_dir_sector, None, "directory", lang)
    if ole.num_mini_fat_sectors:
        _walk(fat, ole.first_mini_fat_sector, ole.num_mini_fat_sectors, "MiniFAT", lang)
    root = ole.root
    if root.size > len(data):
        raise _corrupt(lang, "OLE2: mini stream larger than the file")
    if root.size:
        _walk(fat, root.isectStart, -(-root.size // size), "mini stream", lang)
    if entry.size > len(data):
        raise _corrupt(lang, f"OLE2: {entry.name} larger than the file")
    if entry.size < MINI_CUTOFF:
        ole.loadminifat()
        _walk(ole.minifat, entry.isectStart, -(-entry.size // 64), entry.name, lang)
    else:
        _walk(fat, entry.isectStart, -(-entry.size // size), entry.name, lang)


def _walk(fat, sect: int, needed: int | None, what: str, lang: str) -> None:
    """Follow a chain as the reader does: to its end (needed None) or for `needed` sectors."""
    seen: set[int] = set()
    while sect != ENDOFCHAIN and (needed is None or len(seen) < needed):
        if sect >= len(fat) or sect in seen:
            raise _corrupt(lang, f"OLE2: {what} chain loops or leaves the file")
        seen.add(sect)
        sect = fat[sect]


def _records(stream: bytes, pos: int, lang: str):
    end = len(stream)
    unpack = struct.unpack_from
    while pos + 4 <= end:
        typ, length = unpack("<HH", stream, pos)
        start = pos + 4
        pos = start + length
        if pos > end:
            raise _corrupt(lang, f"BIFF record 0x{typ:04X} runs past the stream")
        yield typ, start, length
    if 0 < end - pos < 4:
        raise _corrupt(lang, "BIFF stream ends inside a record header")


def scan_biff(stream: bytes, filename: str, lang: str = i18n.DEFAULT) -> list[XlsScan]:
    t = i18n.t
    sheets: list[tuple[int, str]] = []
    strings = 0
    biff8 = True
    for typ, start, length in _records(stream, 0, lang):
        if typ == EOF:
            break
        if typ == BOF and length >= 2:
            biff8 = struct.unpack_from("<H", stream, start)[0] >= 0x0600
        if typ == FILEPASS and length >= 2 and struct.unpack_from("<H", stream, start)[0]:
            raise UploadRejected("upload_encrypted", t("upload.format.encrypted", lang,
                                                        filename=filename))
        if typ == BOUNDSHEET and length >= 6:
            sheets.append((struct.unpack_from("<I", stream, start)[0],
                           _sheet_name(stream[start + 6:start + length], biff8)))
        elif typ == SST and length >= 8:
            strings = struct.unpack_from("<I", stream, start + 4)[0]
    from core.workbook_guard import MAX_SHARED_STRINGS, too_many_strings

    if strings > MAX_SHARED_STRINGS:
        raise too_many_strings("Workbook SST", strings, 0, lang)
    scans = []
    for pos, name in sheets:
        if pos >= len(stream):
            raise _corrupt(lang, f"BIFF: sheet “{name}” starts past the stream")
        scans.append(_scan_sheet(stream, pos, name, lang))
    return scans


def _scan_sheet(stream: bytes, pos: int, name: str, lang: str) -> XlsScan:
    scan = XlsScan(name)
    unpack = struct.unpack_from
    seen_bof = False
    depth = 0  # nested substreams (embedded charts): the reader skips their records
    for typ, start, length in _records(stream, pos, lang):
        if depth:
            depth += typ == BOF
            depth -= typ == EOF
            continue
        if typ == BOF:
            depth, seen_bof = (depth + 1, seen_bof) if seen_bof else (depth, True)
        elif typ == EOF:
            break
        elif typ in CELL_RECORDS and length >= 4:
            row, col = unpack("<HH", stream, start)
            scan.cell(row, col)
        elif typ == MULRK and length >= 6:
            row, first = unpack("<HH", stream, start)
            scan.cell(row, first + max(0, (length - 6) // 6 - 1))
        elif typ == DIMENSIONS and scan.declared is None:
            _declare(scan, stream[start:start + length])
    return scan


def _declare(scan: XlsScan, rec: bytes) -> None:
    """The area the reader reserves for this record, computed as it does (u32 wrap-around
    included: a first row after the last one asks for four billion rows)."""
    if len(rec) == 14:
        rf, rl, cf, cl = struct.unpack_from("<IIHH", rec)
    elif len(rec) == 10:
        rf, rl, cf, cl = struct.unpack_from("<HHHH", rec)
    else:
        return  # the reader refuses the file itself
    if cf > 0xFF or cl < cf:
        cf = 0
    if rl >= 1 and cl >= 1:
        rows, cols = (rl - 1 - rf + 1) % (1 << 32), (cl - 1 - cf + 1) % (1 << 32)
    else:
        rows, cols = 1, 1
    scan.declared = (max(rows, rl), max(cols, cl))
    scan.declared_ref = f"A1:{column_letter(max(cl, 1))}{max(rl, 1)}"


def _sheet_name(rec: bytes, biff8: bool) -> str:
    """BIFF8: a length, a flags byte and Latin-1 or UTF-16 characters; BIFF5: a length and
    characters in the workbook's code page (GBK on Chinese Windows)."""
    if not rec:
        return "?"
    cch = rec[0]
    if not biff8:
        return rec[1:1 + cch].decode("gbk", "replace")
    wide = len(rec) > 1 and rec[1] & 1
    body = rec[2:]
    return (body[:2 * cch].decode("utf-16-le", "replace") if wide
            else body[:cch].decode("latin-1"))
