"""Where a worksheet's cells land, read from its XML as it streams past, without parsing it.

python-calamine places a cell at its `r` reference, or, without one, after the previous
cell of its row (a row without `r` follows the previous row). `SheetScan` handles the common
case (every cell carries `r` first) with a few regex passes; `WalkScan` walks tag by tag
the way the reader does. Both keep only an unfinished tag between chunks and never
underestimate the area (rows × columns) the reader will allocate.
"""

from __future__ import annotations

import re
from operator import itemgetter

MAX_TAG = 64 * 1024  # an element's start tag longer than this is not spreadsheet XML


def column_letter(n: int) -> str:
    out = ""
    while n > 0:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out or "A"


class TagTooLong(Exception):
    pass


_TAG = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?(row|c|dimension)(?=[\s/>])"
                  rb"((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>")
_TAG_START = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?(?:row|c|dimension)(?=[\s/>])")
_ATTR_R = re.compile(rb"(?:^|\s)r\s*=\s*[\"']\s*\$?([A-Za-z]*)\$?([0-9]*)")
_ATTR_REF = re.compile(rb"(?:^|\s)ref\s*=\s*[\"']([^\"']*)[\"']")
_REF = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})")


def _col_number(letters: bytes | str) -> int:
    n = 0
    for ch in letters.upper() if isinstance(letters, str) else letters.decode().upper():
        n = n * 26 + ord(ch) - 64
    return n


class SlowPathNeeded(Exception):
    pass


_PFX = rb"<(?:[A-Za-z_][\w.\-]*:)?"
_REF_TAIL = rb"\s+r\s*=\s*[\"']\$?([A-Za-z]{1,3})\$?([0-9]{1,7})[\"']"
# Two spellings: without a namespace prefix (what writers produce; the literal "<c" lets the
# regex engine skip ahead fast) and with one (`<x:c r=...>`, which the reader accepts too).
_PLAIN = (re.compile(rb"<c(?=[\s/>])"), re.compile(rb"<c" + _REF_TAIL))
_PREFIXED = (re.compile(_PFX + rb"c(?=[\s/>])"), re.compile(_PFX + rb"c" + _REF_TAIL))
_PREFIXED_C = re.compile(rb":c[\s/>]")
_DIMENSION = re.compile(_PFX + rb"dimension(?=[\s/>])((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>")


class _Chunks:
    """Splits a stream at the last "<" so that no tag is cut between two pieces."""

    def __init__(self) -> None:
        self._tail = b""

    def whole(self, chunk: bytes) -> bytes:
        buf = self._tail + chunk
        lt = buf.rfind(b"<")
        if lt == -1:
            self._tail = b""
            return buf
        self._tail = buf[lt:]
        if len(self._tail) > MAX_TAG:
            if _TAG_START.match(self._tail):
                raise TagTooLong()
            self._tail = b""  # text, which holds no "<" of its own
        return buf[:lt]

    def rest(self) -> bytes:
        return self._tail


class SheetScan:
    """Where a worksheet's cells land, fed the inflated part chunk by chunk.

    Every writer seen (Excel, WPS, LibreOffice, openpyxl, xlsxwriter) gives each cell an
    `r` as its first attribute; then counting is a few regex passes in C. A part with a cell
    that has none is walked tag by tag (`WalkScan`), which places cells as the reader does."""

    def __init__(self) -> None:
        self.rows = 0
        self.columns = 0
        self.cells = 0
        self.declared: tuple[int, int] | None = None
        self.declared_ref = ""
        self._chunks = _Chunks()
        self._letters: set[bytes] = set()
        self._digits: set[bytes] = set()

    def feed(self, chunk: bytes) -> None:
        self._piece(self._chunks.whole(chunk))

    def finish(self) -> None:
        self._piece(self._chunks.rest())
        if self._letters:
            self.columns = max(_col_number(x) for x in self._letters)
        if self._digits:
            self.rows = max(int(x) for x in self._digits)

    def _piece(self, buf: bytes) -> None:
        if not buf:
            return
        if self.declared is None and b"dimension" in buf:
            m = _DIMENSION.search(buf)
            if m:
                _declare(self, m.group(1))
        any_c, refs_of = _PREFIXED if _PREFIXED_C.search(buf) else _PLAIN
        cells = len(any_c.findall(buf))
        refs = refs_of.findall(buf)
        if len(refs) != cells:
            raise SlowPathNeeded()
        self.cells += cells
        self._letters.update(map(itemgetter(0), refs))
        self._digits.update(map(itemgetter(1), refs))


class WalkScan:
    """The tag-by-tag walk: a row without `r` follows the previous one, a cell without `r`
    follows the previous cell of its row (python-calamine places them so)."""

    def __init__(self) -> None:
        self.rows = 0  # largest 1-based row holding a cell
        self.columns = 0
        self.cells = 0
        self.declared: tuple[int, int] | None = None
        self.declared_ref = ""
        self._row = 0  # current row (1-based), 0 before the first
        self._col = 0
        self._chunks = _Chunks()

    def feed(self, chunk: bytes) -> None:
        self._piece(self._chunks.whole(chunk))

    def finish(self) -> None:
        self._piece(self._chunks.rest())

    def _piece(self, buf: bytes) -> None:
        for m in _TAG.finditer(buf):
            name, attrs = m.group(1), m.group(2)
            if name == b"c":
                self._cell(attrs)
            elif name == b"row":
                r = _ATTR_R.search(attrs)
                self._row = int(r.group(2)) if r and r.group(2) else self._row + 1
                self._col = 0
            elif self.declared is None:
                _declare(self, attrs)

    def _cell(self, attrs: bytes) -> None:
        r = _ATTR_R.search(attrs)
        if r and r.group(1) and r.group(2):
            row, col = max(int(r.group(2)), 1), _col_number(r.group(1))
            # A cell without `r` after this one may land on either row: assume the larger.
            self._row = max(self._row, row)
        else:
            row, col = max(self._row, 1), self._col + 1
        self._col = col
        self.cells += 1
        if row > self.rows:
            self.rows = row
        if col > self.columns:
            self.columns = col


def _declare(scan: SheetScan | WalkScan, attrs: bytes) -> None:
    m = _ATTR_REF.search(attrs)
    if not m:
        return
    ref = m.group(1).decode("ascii", "replace")
    corners = _REF.findall(ref)
    if corners:
        scan.declared_ref = ref
        scan.declared = (max(int(r) for _, r in corners),
                         max(_col_number(c) for c, _ in corners))
