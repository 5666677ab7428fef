"""The container checks every uploaded workbook passes before any reader sees it.

Order: extension, size, zip magic, the zip's declared sizes and ratios, then every XML part
is inflated once, in chunks, with a hard cap (a lying size header fails its CRC there) and
searched for DTD/entity declarations. While a worksheet streams past, its declared
`<dimension>` and the position of every cell (explicit `r="XFD90000"` or implied by order,
as the reader places cells without one) are tracked, so a sheet whose area is too large
is refused before python-calamine allocates it: the reader allocates the whole area
(rows × columns) of a sheet, and a 2 KB file with cells at A1 and XFD90000 asks it for
47 GB. The shared-string table is counted the same way.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import re
import zipfile
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from operator import itemgetter
from pathlib import PurePath
from xml.etree import ElementTree

from core import i18n
from core.errors import KaoheError

ZIP_MAGIC = b"PK\x03\x04"
MAX_ZIP_ENTRIES = 2000
MAX_UNZIPPED_BYTES = 512 * 1024 * 1024
# Real sheets compress 10–25×; deflate tops out near 1000×. Only large parts are judged.
MAX_RATIO = 200
RATIO_MIN_SIZE = 1024 * 1024
OVERLAP = 32  # longer than any declaration token in UTF-16
# Rows above the header (titles, notes) allowed on top of the data-row limit.
HEADER_ROWS = 20
# The widest template has 19 columns; Excel 2003 stopped at 256 (IV).
MAX_COLUMNS = 256
# The reader costs about 40 bytes per cell of a sheet's area: 2.5 million cells ≈ 100 MB.
MAX_CELLS = 2_500_000
# Every shared string is there for a cell; more strings than cells any sheet may hold is
# not a workbook but a memory attack. Their text is capped too.
MAX_SHARED_STRINGS = MAX_CELLS
MAX_SHARED_STRINGS_BYTES = 128 * 1024 * 1024
# workbook.xml and its relationships list sheets; a few MB is thousands of sheets.
MAX_INDEX_PART = 8 * 1024 * 1024
CHUNK = 1 << 20
MAX_TAG = 64 * 1024  # an element's start tag longer than this is not spreadsheet XML
_DECL = [token.encode(enc) for token in ("<!DOCTYPE", "<!ENTITY")
         for enc in ("utf-8", "utf-16-le", "utf-16-be")]
_MAIN_REL = "officeDocument/2006/relationships/"


class UploadRejected(KaoheError):
    """The whole file is refused (format, size, bomb, header). `errors` are CellErrors."""

    status = 422

    def __init__(self, code: str, message: str, *, errors=(), status: int | None = None):
        self.errors = list(errors)
        super().__init__(code, message, status=status,
                         details=[e.as_dict() for e in self.errors] or None)


@dataclass(frozen=True)
class Limits:
    """What one sheet may span. `rows` counts data rows (HEADER_ROWS more are allowed)."""

    rows: int
    columns: int = MAX_COLUMNS
    cells: int = MAX_CELLS

    def too_big(self, rows: int, columns: int) -> bool:
        return (rows > self.rows + HEADER_ROWS or columns > self.columns
                or rows * columns > self.cells)


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.1f}"


def column_letter(n: int) -> str:
    out = ""
    while n > 0:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out or "A"


def check_container(data: bytes, filename: str, *, max_bytes: int, lang: str = i18n.DEFAULT,
                    max_unzipped: int | None = None, max_rows: int | None = None,
                    max_columns: int | None = None, max_cells: int | None = None) -> None:
    """Refuse anything that is not a plain, reasonably sized .xlsx before parsing it."""
    from core.settings import StorageSettings

    t = i18n.t
    max_unzipped = MAX_UNZIPPED_BYTES if max_unzipped is None else max_unzipped
    limits = Limits(StorageSettings().max_upload_rows if max_rows is None else max_rows,
                    MAX_COLUMNS if max_columns is None else max_columns,
                    MAX_CELLS if max_cells is None else max_cells)
    if PurePath(filename or "").suffix.lower() != ".xlsx":
        raise UploadRejected("upload_not_xlsx", t("upload.not_xlsx", lang, filename=filename))
    # Preview, template stamp and marked copy check the same bytes: judge them once.
    key = (hashlib.sha256(data).digest(), max_bytes, max_unzipped, limits, MAX_ZIP_ENTRIES,
           MAX_RATIO, MAX_SHARED_STRINGS, MAX_SHARED_STRINGS_BYTES)
    if key in _PASSED:
        _PASSED.move_to_end(key)
        return
    _check(data, filename, max_bytes, max_unzipped, limits, lang)
    _PASSED[key] = True
    while len(_PASSED) > 64:
        _PASSED.popitem(last=False)


_PASSED: OrderedDict[tuple, bool] = OrderedDict()


def _check(data: bytes, filename: str, max_bytes: int, max_unzipped: int, limits: Limits,
           lang: str) -> None:
    t = i18n.t
    if len(data) > max_bytes:
        raise UploadRejected("upload_too_large", t("upload.too_large", lang, size_mb=_mb(len(data)),
                                                   limit_mb=_mb(max_bytes)), status=413)
    if not data.startswith(ZIP_MAGIC) or not zipfile.is_zipfile(io.BytesIO(data)):
        raise UploadRejected("upload_not_xlsx", t("upload.not_zip", lang, filename=filename))
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise UploadRejected("upload_corrupt", t("upload.corrupt", lang, detail=exc)) from None
    names = {i.filename for i in infos}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise UploadRejected("upload_not_xlsx", t("upload.not_workbook", lang, filename=filename))
    if len(infos) > MAX_ZIP_ENTRIES:
        raise UploadRejected("upload_zip_bomb", t("upload.zip_bomb", lang,
                                                  detail=f"{len(infos)} entries"))
    total = sum(i.file_size for i in infos)
    if total > max_unzipped:
        raise UploadRejected("upload_zip_bomb", t("upload.zip_bomb", lang,
                                                  detail=f"{_mb(total)} MB unpacked"))
    for info in infos:
        if info.file_size >= RATIO_MIN_SIZE and info.file_size > MAX_RATIO * max(1, info.compress_size):
            ratio = info.file_size // max(1, info.compress_size)
            raise UploadRejected("upload_zip_bomb", t("upload.zip_bomb", lang,
                                                      detail=f"{info.filename} {ratio}:1"))
    by_name = {i.filename: i for i in infos}
    # The index parts first: they say which parts are sheets and what people call them.
    sheets, strings = _index(zf, by_name, lang)
    for info in infos:
        if not info.filename.endswith((".xml", ".rels", ".vml")) and info.filename not in sheets \
                and info.filename not in strings:
            continue
        if info.filename in sheets:
            _judge_sheet(sheets[info.filename], _scan_sheet(zf, info, lang), limits, lang)
        elif info.filename in strings:
            _judge_strings(zf, info, lang)
        elif info.filename not in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels"):
            _stream(zf, info, lang)


def _stream(zf: zipfile.ZipFile, info: zipfile.ZipInfo, lang: str, sink=None) -> None:
    # zipfile stops at the declared size and checks the CRC, so a part that would inflate
    # beyond its header's size fails here instead of inside the parser. The whole part is
    # searched for declarations: a long comment could push a DOCTYPE past any prolog window,
    # and spreadsheet XML escapes "<" in text, so a literal "<!DOCTYPE" is never data.
    tail = b""
    try:
        with zf.open(info) as fh:
            while chunk := fh.read(CHUNK):
                window = tail + chunk
                # "<!" (or its UTF-16 form) first: one pass, and most parts have none.
                if (b"<!" in window or b"<\x00!" in window) and any(
                        token in window for token in _DECL):
                    raise UploadRejected("upload_xml_bomb", i18n.t("upload.xml_bomb", lang,
                                                                   part=info.filename))
                tail = window[-OVERLAP:]
                if sink is not None:
                    sink(chunk)
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as exc:
        raise UploadRejected("upload_corrupt", i18n.t("upload.corrupt", lang,
                                                      detail=f"{info.filename}: {exc}")) from None
    except SlowPathNeeded:
        raise
    except TagTooLong:
        raise UploadRejected("upload_corrupt", i18n.t("upload.corrupt", lang,
                                                      detail=f"{info.filename}: tag too long")) from None


def _read_small(zf: zipfile.ZipFile, info: zipfile.ZipInfo, lang: str) -> bytes:
    if info.file_size > MAX_INDEX_PART:
        raise UploadRejected("upload_zip_bomb", i18n.t("upload.zip_bomb", lang,
                                                       detail=f"{info.filename} {_mb(info.file_size)} MB"))
    parts: list[bytes] = []
    _stream(zf, info, lang, parts.append)
    return b"".join(parts)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _index(zf: zipfile.ZipFile, by_name: dict[str, zipfile.ZipInfo], lang: str
           ) -> tuple[dict[str, str], set[str]]:
    """{worksheet part: sheet name}, {shared-string parts}, as the reader will resolve them.

    Parts under xl/worksheets/ count as sheets even when no relationship names them."""
    sheets = {n: PurePath(n).stem for n in by_name if n.startswith("xl/worksheets/")
              and n.endswith(".xml")}
    strings = {n for n in by_name if PurePath(n).name.lower() == "sharedstrings.xml"}
    rels_info = by_name.get("xl/_rels/workbook.xml.rels")
    try:
        book = ElementTree.fromstring(_read_small(zf, by_name["xl/workbook.xml"], lang))
        rels = (ElementTree.fromstring(_read_small(zf, rels_info, lang))
                if rels_info is not None else None)
    except ElementTree.ParseError as exc:
        raise UploadRejected("upload_corrupt", i18n.t("upload.corrupt", lang, detail=exc)) from None
    targets: dict[str, str] = {}
    for rel in (rels if rels is not None else ()):
        target = rel.get("Target") or ""
        part = (target.lstrip("/") if target.startswith("/")
                else posixpath.normpath(posixpath.join("xl", target)))
        kind = rel.get("Type") or ""
        if kind.endswith(_MAIN_REL + "sharedStrings"):
            strings.add(part)
        targets[rel.get("Id") or ""] = part
    for el in book.iter():
        if _local(el.tag) != "sheet":
            continue
        rid = next((v for k, v in el.attrib.items() if _local(k) == "id"), "")
        part = targets.get(rid)
        if part in by_name:
            sheets[part] = el.get("name") or sheets.get(part, part)
    return sheets, strings


# -- the sheet scan ---------------------------------------------------------------------------
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


def _scan_sheet(zf: zipfile.ZipFile, info: zipfile.ZipInfo, lang: str) -> SheetScan | WalkScan:
    scan: SheetScan | WalkScan = SheetScan()
    try:
        _stream(zf, info, lang, scan.feed)
        scan.finish()
    except SlowPathNeeded:
        scan = WalkScan()
        _stream(zf, info, lang, scan.feed)
        scan.finish()
    return scan


def _judge_sheet(name: str, scan: SheetScan | WalkScan, limits: Limits, lang: str) -> None:
    found = [(scan.rows, scan.columns, f"A1:{column_letter(scan.columns)}{scan.rows}")]
    if scan.declared is not None:
        found.insert(0, (*scan.declared, scan.declared_ref))
    for rows, columns, ref in found:
        if limits.too_big(rows, columns):
            raise UploadRejected("upload_sheet_too_large", i18n.t(
                "upload.guard.sheet_too_large", lang, sheet=name, ref=ref, rows=rows,
                columns=columns, max_rows=limits.rows, max_columns=limits.columns,
                max_cells=limits.cells), status=413)


_SI = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?si(?=[\s/>])")


def _judge_strings(zf: zipfile.ZipFile, info: zipfile.ZipInfo, lang: str) -> None:
    count = 0
    size = 0
    tail = b""

    def sink(chunk: bytes) -> None:
        nonlocal count, size, tail
        size += len(chunk)
        buf = tail + chunk
        count += len(_SI.findall(buf))
        lt = buf.rfind(b"<", max(0, len(buf) - 8))
        tail = buf[lt:] if lt != -1 and not _SI.match(buf[lt:]) else b""
        if count > MAX_SHARED_STRINGS or size > MAX_SHARED_STRINGS_BYTES:
            raise UploadRejected("upload_too_many_strings", i18n.t(
                "upload.guard.too_many_strings", lang, part=info.filename,
                count=f"{count:,}", size_mb=_mb(size), max_count=f"{MAX_SHARED_STRINGS:,}",
                max_mb=_mb(MAX_SHARED_STRINGS_BYTES)), status=413)

    _stream(zf, info, lang, sink)


def iter_parts(data: bytes) -> Iterator[str]:  # for tests and tools: the parts of a workbook
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        yield from zf.namelist()
