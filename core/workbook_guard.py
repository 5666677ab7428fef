"""The container checks every uploaded workbook passes before any reader sees it.

Order: size, the format from the content (core.upload_format: it must match the name and
be one the importer takes), then per format. A legacy .xls is judged by core.xls_guard. For
the zip formats (.xlsx, .xlsb, .ods): the zip's declared sizes and ratios, then every part
is inflated once, in chunks, with a hard cap (a lying size header fails its CRC there) and
searched for DTD/entity declarations. While a worksheet streams past, its declared
`<dimension>` and the position of every cell (explicit `r="XFD90000"` or implied by order,
as the reader places cells without one: core.sheet_scan) are tracked, so a sheet whose
area is too large is refused before python-calamine allocates it: the reader allocates the
whole area (rows × columns) of a sheet, and a 2 KB file with cells at A1 and XFD90000 asks
it for 47 GB. The shared-string table is counted the same way. An .xlsb's binary sheets
are walked record by record (core.xlsb_scan), an .ods's content.xml with its repeated rows
and cells expanded (core.ods_scan), with the same limits.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import re
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import PurePath
from xml.etree import ElementTree

from core import i18n, ods_scan, upload_format, xls_guard, xlsb_scan
from core.sheet_scan import SheetScan, SlowPathNeeded, TagTooLong, WalkScan, column_letter
from core.upload_format import UploadRejected

__all__ = ["Limits", "UploadRejected", "check_container"]

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
_DECL = [token.encode(enc) for token in ("<!DOCTYPE", "<!ENTITY")
         for enc in ("utf-8", "utf-16-le", "utf-16-be")]
_MAIN_REL = "officeDocument/2006/relationships/"


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


def check_container(data: bytes, filename: str, *, max_bytes: int, lang: str = i18n.DEFAULT,
                    max_unzipped: int | None = None, max_rows: int | None = None,
                    max_columns: int | None = None, max_cells: int | None = None,
                    accept: tuple[str, ...] = upload_format.WORKBOOKS) -> str:
    """Refuse anything that is not a plain, reasonably sized workbook of an accepted format
    before parsing it; return its format ("xlsx", "xls", "xlsb", "ods" or "csv": a CSV's
    rows are counted by its reader as it parses)."""
    from core.settings import StorageSettings

    max_unzipped = MAX_UNZIPPED_BYTES if max_unzipped is None else max_unzipped
    limits = Limits(StorageSettings().max_upload_rows if max_rows is None else max_rows,
                    MAX_COLUMNS if max_columns is None else max_columns,
                    MAX_CELLS if max_cells is None else max_cells)
    # Preview, template stamp and marked copy check the same bytes: judge them once.
    key = (hashlib.sha256(data).digest(), PurePath(filename or "").suffix.lower(), accept,
           max_bytes, max_unzipped, limits, MAX_ZIP_ENTRIES, MAX_RATIO, MAX_SHARED_STRINGS,
           MAX_SHARED_STRINGS_BYTES)
    if key in _PASSED:
        _PASSED.move_to_end(key)
        return _PASSED[key]
    if len(data) > max_bytes:
        raise UploadRejected("upload_too_large", i18n.t(
            "upload.too_large", lang, size_mb=_mb(len(data)), limit_mb=_mb(max_bytes)),
            status=413)
    kind = upload_format.decide(data, filename, accept, lang)
    if kind == "xls":
        for scan in xls_guard.check(data, filename, lang):
            _judge_sheet(scan.name, scan, limits, lang)
    elif kind != "csv":
        zf, infos = _open_zip(data, max_unzipped, lang)
        {"xlsx": _check_xlsx, "xlsb": _check_xlsb, "ods": _check_ods}[kind](
            zf, infos, filename, limits, lang)
    _PASSED[key] = kind
    while len(_PASSED) > 64:
        _PASSED.popitem(last=False)
    return kind


_PASSED: OrderedDict[tuple, str] = OrderedDict()


def _open_zip(data: bytes, max_unzipped: int, lang: str
              ) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    """The zip checks every zip-based format passes: entries, unpacked size, ratios."""
    t = i18n.t
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise UploadRejected("upload_corrupt", t("upload.corrupt", lang, detail=exc)) from None
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
    return zf, infos


def _check_xlsx(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], filename: str,
                limits: Limits, lang: str) -> None:
    names = {i.filename for i in infos}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise UploadRejected("upload_not_xlsx", i18n.t("upload.not_workbook", lang,
                                                       filename=filename))
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


def _xml_parts(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], skip: set[str],
               lang: str) -> None:
    """Every XML part of an .xlsb or .ods not read otherwise: inflated under the cap and
    searched for declarations."""
    for info in infos:
        if info.filename not in skip and info.filename.lower().endswith(
                (".xml", ".rels", ".rdf", ".vml")):
            _stream(zf, info, lang)


def _check_xlsb(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], filename: str,
                limits: Limits, lang: str) -> None:
    """Sheets are the parts workbook.bin lists (through its relationships, as the reader
    resolves them: "xl/" + target) and every part under xl/worksheets/."""
    by_lower = {i.filename.lower(): i for i in infos}
    try:
        bundled = xlsb_scan.bundled_sheets(_read_small(zf, by_lower["xl/workbook.bin"], lang,
                                                       declarations=False))
        rels_info = by_lower.get("xl/_rels/workbook.bin.rels")
        rels = (ElementTree.fromstring(_read_small(zf, rels_info, lang))
                if rels_info is not None else ())
    except (xlsb_scan.Broken, ElementTree.ParseError) as exc:
        raise UploadRejected("upload_corrupt", i18n.t("upload.corrupt", lang,
                                                      detail=f"xl/workbook.bin: {exc}")) from None
    targets = {rel.get("Id"): rel.get("Target") or "" for rel in rels}
    sheets = {i.filename.lower(): PurePath(i.filename).stem for i in infos
              if i.filename.lower().startswith("xl/worksheets/") and i.filename.endswith(".bin")}
    for _state, rel, name in bundled:
        if rel is None:
            continue
        if rel not in targets:  # the reader panics on it; a workbook never has one
            raise UploadRejected("upload_corrupt", i18n.t(
                "upload.corrupt", lang, detail=f"xl/workbook.bin: sheet “{name}” has no part"))
        sheets[posixpath.normpath("xl/" + targets[rel]).lower()] = name
    for part, name in sheets.items():
        info = by_lower.get(part)
        if info is not None:
            _judge_sheet(name, _scan_binary(zf, info, xlsb_scan.XlsbSheetScan(), lang),
                         limits, lang)
    for part, info in by_lower.items():
        if PurePath(part).name == "sharedstrings.bin":
            count = _scan_binary(zf, info, xlsb_scan.XlsbStringCount(), lang).count
            if count > MAX_SHARED_STRINGS or info.file_size > MAX_SHARED_STRINGS_BYTES:
                raise too_many_strings(info.filename, count, info.file_size, lang)
    _xml_parts(zf, infos, {"xl/_rels/workbook.bin.rels"}, lang)


def _scan_binary(zf: zipfile.ZipFile, info: zipfile.ZipInfo, scan, lang: str):
    try:
        _stream(zf, info, lang, scan.feed, declarations=False)
        scan.finish()
    except xlsb_scan.Broken as exc:
        raise UploadRejected("upload_corrupt", i18n.t("upload.corrupt", lang,
                                                      detail=f"{info.filename}: {exc}")) from None
    return scan


def _check_ods(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], filename: str,
               limits: Limits, lang: str) -> None:
    """content.xml holds every table: scanned for the area its repeats declare. A manifest
    naming encryption data means a password the reader cannot open."""
    by_name = {i.filename: i for i in infos}
    manifest = by_name.get("META-INF/manifest.xml")
    if manifest is not None and b"encryption-data" in _read_small(zf, manifest, lang):
        raise UploadRejected("upload_encrypted", i18n.t("upload.format.encrypted", lang,
                                                        filename=filename))
    content = by_name.get("content.xml")
    if content is None:
        raise UploadRejected("upload_not_workbook", i18n.t("upload.format.no_content", lang,
                                                           filename=filename))
    scan = ods_scan.OdsScan()
    _stream(zf, content, lang, scan.feed)
    scan.finish()
    for table in scan.tables:
        _judge_sheet(table.name, table, limits, lang)
    _xml_parts(zf, infos, {"content.xml", "META-INF/manifest.xml"}, lang)


def _stream(zf: zipfile.ZipFile, info: zipfile.ZipInfo, lang: str, sink=None,
            declarations: bool = True) -> None:
    # zipfile stops at the declared size and checks the CRC, so a part that would inflate
    # beyond its header's size fails here instead of inside the parser. The whole part is
    # searched for declarations: a long comment could push a DOCTYPE past any prolog window,
    # and spreadsheet XML escapes "<" in text, so a literal "<!DOCTYPE" is never data.
    tail = b""
    try:
        with zf.open(info) as fh:
            while chunk := fh.read(CHUNK):
                window = tail + chunk if declarations else b""
                # "<!" (or its UTF-16 form) first: one pass, and most parts have none.
                if declarations and (b"<!" in window or b"<\x00!" in window) and any(
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


def _read_small(zf: zipfile.ZipFile, info: zipfile.ZipInfo, lang: str,
                declarations: bool = True) -> bytes:
    if info.file_size > MAX_INDEX_PART:
        raise UploadRejected("upload_zip_bomb", i18n.t("upload.zip_bomb", lang,
                                                       detail=f"{info.filename} {_mb(info.file_size)} MB"))
    parts: list[bytes] = []
    _stream(zf, info, lang, parts.append, declarations)
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
            raise too_many_strings(info.filename, count, size, lang)

    _stream(zf, info, lang, sink)


def too_many_strings(part: str, count: int, size: int, lang: str) -> UploadRejected:
    return UploadRejected("upload_too_many_strings", i18n.t(
        "upload.guard.too_many_strings", lang, part=part, count=f"{count:,}",
        size_mb=_mb(size), max_count=f"{MAX_SHARED_STRINGS:,}",
        max_mb=_mb(MAX_SHARED_STRINGS_BYTES)), status=413)
