"""CSV uploads read into the grid the workbook readers give, under the same limits.

The encoding is decided by strict decoding, UTF-8 first (with or without a byte-order
mark), then GB18030, which contains GBK and GB2312: what Excel and WPS save as "CSV" on a
Chinese Windows. Chinese text in GB18030 is practically never valid UTF-8, so the first
strict decoder that accepts the whole file is right; a statistical detector guesses from
byte frequencies and misreads short Chinese files (docs/benchmarks.md). Anything neither
decodes is refused rather than read as mojibake. The delimiter is a comma unless the
first lines are consistently split by tabs or semicolons (csv.Sniffer).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from core import i18n
from core.sheet_scan import column_letter
from core.upload_format import UploadRejected

ENCODINGS = ("utf-8-sig", "gb18030")
DELIMITERS = ",\t;"
SNIFF_CHARS = 16 * 1024


def decode(data: bytes, filename: str, lang: str = i18n.DEFAULT) -> tuple[str, str]:
    """(text, encoding) or UploadRejected naming the encodings taken."""
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise UploadRejected("upload_csv_encoding", i18n.t(
        "upload.csv.encoding", lang, filename=PurePath(filename or "").name))


def delimiter(text: str) -> str:
    sample = text[:SNIFF_CHARS]
    cut = sample.rfind("\n")
    if cut > 0:
        sample = sample[:cut]  # whole lines only
    try:
        found = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","
    return found if found in DELIMITERS else ","


@dataclass(frozen=True)
class _Meta:
    name: str
    visible: str = "SheetVisibleEnum.Visible"
    typ: str = "SheetTypeEnum.WorkSheet"


class _Sheet:
    def __init__(self, grid: list[list[str]]) -> None:
        self._grid = grid

    def to_python(self, skip_empty_area: bool = True, nrows: int | None = None) -> list[list[Any]]:
        return self._grid if nrows is None else self._grid[:nrows]


class CsvBook:
    """One sheet named after the file, with the workbook's interface the kit reads."""

    def __init__(self, name: str, grid: list[list[str]], encoding: str, delimiter: str) -> None:
        self.sheet_names = [name]
        self.sheets_metadata = [_Meta(name)]
        self.encoding = encoding
        self.delimiter = delimiter
        self._sheet = _Sheet(grid)

    def get_sheet_by_name(self, name: str) -> _Sheet:
        if name not in self.sheet_names:
            raise KeyError(name)
        return self._sheet


def read(data: bytes, filename: str, *, max_rows: int, max_columns: int, max_cells: int,
         lang: str = i18n.DEFAULT) -> CsvBook:
    """The CSV as one sheet, or UploadRejected for an unknown encoding, a broken row
    (named), or more rows, columns or cells than a workbook may hold."""
    from core.workbook_guard import HEADER_ROWS

    t = i18n.t
    shown = PurePath(filename or "").name or "upload.csv"
    text, encoding = decode(data, filename, lang)
    sep = delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    grid: list[list[str]] = []
    width = 0
    row = 0
    try:
        for row, record in enumerate(reader, start=1):
            if len(record) > max_columns:
                raise UploadRejected("upload_sheet_too_large", t(
                    "upload.csv.too_wide", lang, filename=shown, row=row, columns=len(record),
                    max_columns=max_columns), status=413)
            width = max(width, len(record))
            if row <= max_rows + HEADER_ROWS + 1:
                grid.append(record)
    except csv.Error as exc:
        detail = (t("upload.csv.field_too_long", lang) if "field larger" in str(exc)
                  else str(exc))
        raise UploadRejected("upload_corrupt", t("upload.csv.broken", lang, filename=shown,
                                                 row=row + 1, detail=detail)) from None
    if row > max_rows + HEADER_ROWS + 1:  # the header and the rows above it not counted
        raise UploadRejected("upload_too_many_rows", t("upload.too_many_rows", lang,
                                                       rows=row - 1, limit=max_rows), status=413)
    if row * width > max_cells:
        raise UploadRejected("upload_sheet_too_large", t(
            "upload.guard.sheet_too_large", lang, sheet=shown,
            ref=f"A1:{column_letter(width)}{row}", rows=row, columns=width, max_rows=max_rows,
            max_columns=max_columns, max_cells=max_cells), status=413)
    return CsvBook(PurePath(shown).stem or shown, grid, encoding, sep)
