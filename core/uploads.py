"""The Excel reader kit: every upload the platform reads goes through `read_table` (or
`read_grid` for a sheet without a header), after `core.workbook_guard.check_container`
decided its format from its content (.xlsx, .xls, .xlsb, .ods; CSV where the importer
takes it: `accept=WITH_CSV`) and refused bombs, entity declarations and sheets too large
to read. Only then does python-calamine parse (core.csv_table reads CSV).

    table = read_table(data, "单位.xlsx", [ColumnSpec("code", "统一社会信用代码", required=True),
                                          ColumnSpec("n", "党员数", kind="int")])
    for row_no, values in table.rows: ...
    table.errors  # [CellError(sheet, row, column, message, header)]

The preview/confirm store (`stage`, `take`) keeps an upload between its two steps.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import PurePath
from typing import Any

from openpyxl.utils import get_column_letter

from core import cells, clock, csv_table, i18n
from core.errors import KaoheError
from core.upload_format import WITH_CSV, WORKBOOKS, suffix_kind
from core.uploads_models import PendingUpload
from core.workbook_guard import (
    HEADER_ROWS,
    MAX_CELLS,
    MAX_COLUMNS,
    UploadRejected,
    check_container,
)

__all__ = [
    "WITH_CSV", "WORKBOOKS", "CellError", "ColumnSpec", "PendingUpload", "Preview", "Table",
    "UploadRejected", "check_container", "discard", "get_pending", "mark_errors",
    "marked_filename", "read_table", "stage", "take",
]

# "code": a credit or unit code, spaces and hyphens inside dropped (core.cells.code).
KINDS = ("text", "int", "float", "date", "bool", "code")
HEADER_SCAN_ROWS = HEADER_ROWS
TRUE_WORDS = {"是", "true", "yes", "y", "1", "√", "✓", "对"}
FALSE_WORDS = {"否", "false", "no", "n", "0", "×", "✗", "不"}
EXCEL_EPOCH = dt.date(1899, 12, 30)


@dataclass(frozen=True)
class ColumnSpec:
    """An expected column. `choices` is a sequence of allowed values or a mapping of the
    label people type to the stored value (e.g. {"提醒": "remind"}). `check(value)` returns
    an error message or None. `optional` columns may be absent from the header."""

    key: str
    header: str
    kind: str = "text"
    required: bool = False
    choices: Sequence[Any] | Mapping[str, Any] | None = None
    aliases: tuple[str, ...] = ()
    optional: bool = False
    check: Callable[[Any], str | None] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column '{self.key}': unknown kind '{self.kind}' (known: {', '.join(KINDS)})")

    def names(self) -> set[str]:
        return {cells.header(n) for n in (self.header, self.key, *self.aliases)}


@dataclass(frozen=True)
class CellError:
    """One problem in one cell. `row` is the Excel row number, `column` its letter ("" for
    a problem with the whole row or file)."""

    sheet: str
    row: int
    column: str
    message: str
    header: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self, lang: str = i18n.DEFAULT) -> str:
        where = f"{self.column}{self.row}" if self.column else str(self.row)
        return i18n.t("upload.cell", lang, sheet=self.sheet, row=self.row, column=self.column or "-",
                      header=self.header or "-", where=where, message=self.message)

    __str__ = text


@dataclass
class Table:
    sheet: str
    header_row: int
    letters: dict[str, str]  # key -> column letter where it was found
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    errors: list[CellError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def error_rows(self) -> set[int]:
        return {e.row for e in self.errors}

    def valid_rows(self) -> list[tuple[int, dict[str, Any]]]:
        bad = self.error_rows()
        return [(n, r) for n, r in self.rows if n not in bad]

    def add_error(self, row: int, key: str, message: str, header: str = "") -> CellError:
        """For importers' own checks (duplicates, unknown codes): same shape as ours."""
        err = CellError(self.sheet, row, self.letters.get(key, ""), message, header or key)
        self.errors.append(err)
        return err


# -- reading ----------------------------------------------------------------------------------
def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _limits(max_rows: int | None, max_bytes: int | None, settings: Any) -> tuple[int, int]:
    """Explicit limits win, then settings.storage, then the documented defaults."""
    from core.settings import StorageSettings

    storage = settings.storage if settings is not None else StorageSettings()
    return (storage.max_upload_rows if max_rows is None else max_rows,
            storage.max_upload_mb * 1024 * 1024 if max_bytes is None else max_bytes)


def read_table(data: bytes, filename: str, columns: Sequence[ColumnSpec], *,
               sheet: str | int | None = None, header_row: int | None = None,
               max_rows: int | None = None, max_bytes: int | None = None,
               allow_unknown: bool = False, lang: str = i18n.DEFAULT,
               settings: Any = None, accept: tuple[str, ...] = WORKBOOKS) -> Table:
    """Check and read one sheet into typed rows. Raises UploadRejected for a bad file or
    header; cell problems are collected in `table.errors` so all can be shown at once.
    `accept` names the formats this importer takes (WORKBOOKS, or WITH_CSV)."""

    max_rows, max_bytes = _limits(max_rows, max_bytes, settings)
    t = i18n.t
    book = open_book(data, filename, max_rows=max_rows, max_bytes=max_bytes, lang=lang,
                     accept=accept)
    try:
        name = _pick_sheet(book, sheet, lang)
        grid = book.get_sheet_by_name(name).to_python(skip_empty_area=False)
    except UploadRejected:
        raise
    except BaseException as exc:  # calamine reports broken parts as plain errors or panics
        raise _unreadable(exc, lang) from None
    if not grid:
        raise UploadRejected("upload_empty", t("upload.empty", lang, sheet=name))
    hdr, head = (header_row, grid[header_row - 1] if header_row <= len(grid) else []) \
        if header_row else _find_header(grid, columns)
    if hdr is None or hdr > len(grid):
        expected = "、".join(c.header for c in columns)
        raise UploadRejected("upload_bad_header", t("upload.no_header", lang, sheet=name,
                                                    rows=HEADER_SCAN_ROWS, expected=expected))
    positions = _match_header(head, columns, name, hdr, allow_unknown, lang)
    data_rows = len(grid) - hdr
    if data_rows > max_rows:
        raise UploadRejected("upload_too_many_rows", t("upload.too_many_rows", lang, rows=data_rows,
                                                       limit=max_rows), status=413)
    letters = {c.key: get_column_letter(positions[c.key] + 1) for c in columns if c.key in positions}
    table = Table(name, hdr, letters)
    # Per column, once: its position, letter and compiled converter (the loop runs per cell).
    present = [(positions[c.key], c.key, letters[c.key], c.header, converter(c, lang))
               for c in columns if c.key in positions]
    width = max(p for p, *_ in present) + 1
    empty = dict.fromkeys(c.key for c in columns)
    for offset, raw in enumerate(grid[hdr:], start=hdr + 1):
        if len(raw) < width:
            raw = [*raw, *([None] * (width - len(raw)))]
        if all(_blank(raw[p]) for p, *_ in present):
            continue
        values = empty.copy()
        for pos, key, letter, header, conv in present:
            value, problem = conv(raw[pos])
            if problem:
                table.errors.append(CellError(name, offset, letter, problem, header))
            else:
                values[key] = value
        table.rows.append((offset, values))
    return table


def _unreadable(exc: BaseException, lang: str) -> UploadRejected:
    """A reader's failure as the user's "file is broken". python-calamine reports broken
    parts as plain errors, and a Rust panic as pyo3's PanicException, which derives from
    BaseException only; anything else (KeyboardInterrupt, SystemExit) goes on."""
    if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
        raise exc
    return UploadRejected("upload_corrupt", i18n.t("upload.corrupt", lang, detail=exc))


def open_book(data: bytes, filename: str, *, max_rows: int | None = None,
              max_bytes: int | None = None, lang: str = i18n.DEFAULT, settings: Any = None,
              accept: tuple[str, ...] = WORKBOOKS):
    """The workbook of an upload once the container checks passed: python-calamine's for
    the workbook formats, a core.csv_table.CsvBook (the same interface) for CSV."""
    from python_calamine import CalamineWorkbook

    max_rows, max_bytes = _limits(max_rows, max_bytes, settings)
    kind = check_container(data, filename, max_bytes=max_bytes, max_rows=max_rows, lang=lang,
                           accept=accept)
    if kind == "csv":
        return csv_table.read(data, filename, max_rows=max_rows, max_columns=MAX_COLUMNS,
                              max_cells=MAX_CELLS, lang=lang)
    try:
        return CalamineWorkbook.from_filelike(io.BytesIO(data))
    except BaseException as exc:
        raise _unreadable(exc, lang) from None


def read_grid(data: bytes, filename: str, sheet: str, *, lang: str = i18n.DEFAULT,
              settings: Any = None, accept: tuple[str, ...] = WORKBOOKS
              ) -> list[list[Any]] | None:
    """The raw cells of one named sheet (None when the workbook has no such sheet), for
    sheets without a header such as a template's hidden stamp. Checked like read_table."""
    book = open_book(data, filename, lang=lang, settings=settings, accept=accept)
    if sheet not in book.sheet_names:
        return None
    try:
        return book.get_sheet_by_name(sheet).to_python()
    except BaseException as exc:
        raise _unreadable(exc, lang) from None


def _pick_sheet(book: Any, sheet: str | int | None, lang: str) -> str:
    if isinstance(sheet, str):
        if sheet not in book.sheet_names:
            raise UploadRejected("upload_no_sheet", i18n.t("upload.no_sheet", lang, sheet=sheet))
        return sheet
    if isinstance(sheet, int):
        if not 0 <= sheet < len(book.sheet_names):
            raise UploadRejected("upload_no_sheet", i18n.t("upload.no_sheet", lang, sheet=sheet + 1))
        return book.sheet_names[sheet]
    for meta in book.sheets_metadata:  # the first visible worksheet, as people see it
        if str(meta.visible).endswith("Visible") and str(meta.typ).endswith("WorkSheet"):
            return meta.name
    if not book.sheet_names:
        raise UploadRejected("upload_no_sheet", i18n.t("upload.no_sheet", lang, sheet=1))
    return book.sheet_names[0]


def _find_header(grid: list[list[Any]], columns: Sequence[ColumnSpec]
                 ) -> tuple[int | None, list[Any]]:
    """(row, header cells): the row (1-based) among the first rows that names the most
    expected columns. Two rows read as one header when together they name more: a group
    title merged over several columns (党员情况 above 党员总数/正式党员/预备党员) and
    titles merged down over both rows. The lower row names a column where it has text, the
    upper row where the lower is empty; the returned row is the lower one."""
    wanted = [c.names() for c in columns]

    def hits(row: list[Any]) -> int:
        found: set[str] = set()
        for v in row:
            if not _blank(v):
                found |= cells.header_forms(v)
        return sum(1 for names in wanted if names & found)

    rows = grid[:HEADER_SCAN_ROWS]
    best: tuple[int, int, int] | None = None  # (hits, single row first, -row)
    head: list[Any] = []
    for i, row in enumerate(rows, start=1):
        candidates = [(row, i, 1)]
        if i < len(grid):
            lower = grid[i]
            width = max(len(row), len(lower))
            merged = [lower[k] if k < len(lower) and not _blank(lower[k])
                      else row[k] if k < len(row) else None for k in range(width)]
            candidates.append((merged, i + 1, 0))
        for cells_, at, single in candidates:
            n = hits(cells_)
            if n and (best is None or (n, single, -at) > best):
                best, head = (n, single, -at), cells_
    if best is None:
        return None, []
    return -best[2], head


def _match_header(row: list[Any], columns: Sequence[ColumnSpec], sheet: str, hdr: int,
                  allow_unknown: bool, lang: str) -> dict[str, int]:
    t = i18n.t
    positions: dict[str, int] = {}
    problems: list[CellError] = []
    unknown: list[str] = []
    dupes: list[str] = []
    for idx, value in enumerate(row):
        if _blank(value):
            continue
        forms = cells.header_forms(value)
        spec = next((c for c in columns if forms & c.names()), None)
        letter = get_column_letter(idx + 1)
        if spec is None:
            if not allow_unknown:
                unknown.append(f"{letter}“{value}”")
                problems.append(CellError(sheet, hdr, letter, t("upload.unknown_column", lang),
                                          str(value)))
            continue
        if spec.key in positions:
            first = get_column_letter(positions[spec.key] + 1)
            dupes.append(f"“{spec.header}”（{first}、{letter}）")
            problems.append(CellError(sheet, hdr, letter, t("upload.duplicate_column", lang,
                                                            first=first), spec.header))
            continue
        positions[spec.key] = idx
    missing = [c.header for c in columns if c.key not in positions and not c.optional]
    for header in missing:
        problems.append(CellError(sheet, hdr, "", t("upload.missing_column", lang), header))
    if problems:
        parts = []
        if missing:
            parts.append(t("upload.missing_columns", lang, columns="、".join(missing)))
        if unknown:
            parts.append(t("upload.unknown_columns", lang, columns="、".join(unknown),
                           expected="、".join(c.header for c in columns)))
        if dupes:
            parts.append(t("upload.duplicate_columns", lang, columns="、".join(dupes)))
        raise UploadRejected("upload_bad_header", t("upload.header_rejected", lang, sheet=sheet,
                                                    row=hdr, details="；".join(parts)),
                             errors=problems)
    return positions


# -- conversion -------------------------------------------------------------------------------
_shown = cells.shown


def convert(value: Any, spec: ColumnSpec, lang: str = i18n.DEFAULT) -> tuple[Any, str | None]:
    """(typed value, None) or (None, message) for one cell."""
    return converter(spec, lang)(value)


def _choice_labels(mapping: dict[str, Any], lang: str) -> list[str]:
    """One name per allowed value for a refusal to list: a mapping accepts a value's code and
    its names in several languages, and the reader is told the name in their own (a name of
    Latin letters for English, another for Chinese), never the code unless it has no name."""
    by_value: dict[Any, list[str]] = {}
    for key, value in mapping.items():
        by_value.setdefault(value, []).append(str(key))
    out = []
    for value, keys in by_value.items():
        names = [k for k in keys if k != str(value)] or keys
        mine = [k for k in names if k.isascii() == (lang != "zh")]
        out.append((mine or names)[0])
    return out


def converter(spec: ColumnSpec, lang: str = i18n.DEFAULT) -> Callable[[Any], tuple[Any, str | None]]:
    """`convert` for one column, with its lookups done once: read_table calls it per cell."""
    t = i18n.t
    to_kind = _CONVERTERS[spec.kind]
    missing = t("upload.required", lang) if spec.required else None
    mapping = dict(spec.choices) if isinstance(spec.choices, Mapping) else None
    allowed = (list(mapping.values()) if mapping is not None
               else None if spec.choices is None else list(spec.choices))
    sep = "、" if lang == "zh" else ", "
    labels = (sep.join(_choice_labels(mapping, lang)) if mapping is not None
              else sep.join(map(str, spec.choices)) if spec.choices is not None else "")
    check = spec.check

    def conv(value: Any) -> tuple[Any, str | None]:
        if value is None:
            return None, missing
        if value.__class__ is str:
            value = value.strip()
            if not value:
                return None, missing
        try:
            out = to_kind(value)
        except (ValueError, TypeError, OverflowError):
            return None, t(f"upload.not_{spec.kind}", lang, value=_shown(value))
        if mapping is not None and out in mapping:
            out = mapping[out]
        elif allowed is not None and out not in allowed:
            return None, t("upload.not_choice", lang, value=_shown(value), choices=labels)
        if check is not None:
            problem = check(out)
            if problem:
                return None, problem
        return out, None

    return conv


def _to_text(value: Any) -> str:
    if value.__class__ is str:
        return value
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a code typed into a number cell: 520102.0 → "520102"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _to_int(value: Any) -> int:
    try:
        return cells.whole(value)
    except cells.CellProblem:
        raise ValueError("not whole") from None


def _to_float(value: Any) -> float:
    try:
        return float(cells.number(value))
    except cells.CellProblem:
        raise ValueError("not a number") from None


def _to_code(value: Any) -> str:
    return cells.code(value)


_DATE_TEXT = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")


def _to_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, float | int) and not isinstance(value, bool):
        # A date cell without a date format arrives as its serial number.
        if not float(value).is_integer() or not 10_000 <= value <= 100_000:
            raise ValueError("not a serial date")
        return EXCEL_EPOCH + dt.timedelta(days=int(value))
    if isinstance(value, str):
        value = cells.plain(value).strip()
        if re.fullmatch(r"\d{8}", value):
            return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
        m = _DATE_TEXT.fullmatch(value)
        if m:
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
    raise ValueError("not a date")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = cells.plain(str(value)).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError("not a yes/no")


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "text": _to_text, "int": _to_int, "float": _to_float, "date": _to_date, "bool": _to_bool,
    "code": _to_code,
}


# -- marking errors ---------------------------------------------------------------------------
def mark_errors(data: bytes, errors: Sequence[CellError | Mapping[str, Any]],
                filename: str = "upload.xlsx", lang: str = i18n.DEFAULT) -> bytes:
    """The user's own workbook with each bad cell filled red and a comment saying why.
    Row-level problems (no column) are marked on the row's first cell. openpyxl writes only
    .xlsx, so an .xls, .xlsb, .ods or CSV upload comes back as an .xlsx copy of its cells
    (marked_filename names it so)."""
    import openpyxl
    from openpyxl.comments import Comment
    from openpyxl.styles import PatternFill

    kind = check_container(data, filename, max_bytes=max(len(data), 1), lang=lang,
                           accept=WITH_CSV)
    names: dict[str, str] = {}
    if kind == "xlsx":
        book = openpyxl.load_workbook(io.BytesIO(data))
    else:
        book, names = _xlsx_copy(open_book(data, filename, max_bytes=max(len(data), 1),
                                           lang=lang, accept=WITH_CSV), lang)
    fill = PatternFill("solid", start_color="FFC7CE", end_color="FFC7CE")
    notes: dict[tuple[str, str], list[str]] = {}
    for err in errors:
        e = err if isinstance(err, CellError) else CellError(**dict(err))
        sheet = names.get(e.sheet, e.sheet)
        sheet = sheet if sheet in book.sheetnames else book.sheetnames[0]
        coord = f"{e.column or 'A'}{max(1, e.row)}"
        text = e.message if e.column else f"{e.header}：{e.message}" if e.header else e.message
        notes.setdefault((sheet, coord), []).append(text)
    for (sheet, coord), texts in notes.items():
        cell = book[sheet][coord]
        cell.fill = fill
        body = "\n".join(texts)
        comment = Comment(body, "kaohe")
        comment.width, comment.height = 240, 40 + 20 * body.count("\n") + len(body) // 2
        cell.comment = comment
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# -- preview and confirm ----------------------------------------------------------------------
@dataclass
class Preview:
    """What confirming would do. `create` items: {"row": n, "values": {key: value}}.
    `change` items: {"row": n, "label": str, "changes": [{"field", "before", "after"}]}."""

    columns: list[tuple[str, str]] = field(default_factory=list)  # (key, header) of `create`
    create: list[dict[str, Any]] = field(default_factory=list)
    change: list[dict[str, Any]] = field(default_factory=list)
    errors: list[CellError] = field(default_factory=list)
    unchanged: int = 0
    summary: str = ""
    # When `create`/`change` list only the first rows of a large file: the counts of all rows.
    totals: dict[str, int] = field(default_factory=dict)
    # What a whole-list upload lacks (e.g. organizations of the registry not in the file).
    absent: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        from core.audit import canonical

        return canonical({"columns": [list(c) for c in self.columns], "create": self.create,
                          "change": self.change, "errors": [e.as_dict() for e in self.errors],
                          "unchanged": self.unchanged, "summary": self.summary,
                          "totals": self.totals, "absent": self.absent})


@dataclass
class Staged:
    """An importer's preview with what its confirm needs again (rows already read and
    cleaned, so the confirm repeats only the database checks); kept with the upload."""

    preview: Preview
    context: dict[str, Any] = field(default_factory=dict)
    ttl_minutes: int = 30


class PendingError(KaoheError):
    pass


TOKEN_LENGTH = 64  # the column's length (core.uploads_models.PendingUpload.token)


def _now() -> dt.datetime:
    return clock.now()


async def stage(importer: str, user: Any, filename: str, data: bytes,
                preview: Preview | Mapping[str, Any], *, context: Mapping[str, Any] | None = None,
                ttl_minutes: int = 30) -> PendingUpload:
    """Keep an upload and its preview until its uploader confirms it (or it expires)."""
    from core import audit

    await PendingUpload.filter(expires_at__lt=_now() - dt.timedelta(days=1)).delete()
    body = preview.to_json() if isinstance(preview, Preview) else audit.canonical(dict(preview))
    pending = await PendingUpload.create(
        token=secrets.token_urlsafe(32), importer=importer, user_id=user.id,
        filename=PurePath(filename or "upload.xlsx").name[:255], data=data,
        sha256=hashlib.sha256(data).hexdigest(), preview=body,
        context=audit.canonical(dict(context or {})),
        expires_at=_now() + dt.timedelta(minutes=ttl_minutes))
    await audit.record("upload.stage", "pending_upload", pending.id,
                       after={"importer": importer, "filename": pending.filename,
                              "sha256": pending.sha256, "errors": len(body.get("errors", []))})
    return pending


async def get_pending(token: str, user: Any, importer: str | None = None,
                      lang: str = i18n.DEFAULT) -> PendingUpload:
    """The caller's own staged upload; anyone else's is 'not found' (no token probing)."""
    if not token or len(token) > TOKEN_LENGTH:  # longer than any token: not one of ours
        raise PendingError("upload_not_found", i18n.t("upload.pending_not_found", lang), status=404)
    qs = PendingUpload.filter(token=token, user_id=user.id)
    if importer:
        qs = qs.filter(importer=importer)
    pending = await qs.first()
    if pending is None:
        raise PendingError("upload_not_found", i18n.t("upload.pending_not_found", lang), status=404)
    return pending


async def take(token: str, user: Any, importer: str | None = None, *, allow_errors: bool = False,
               lang: str = i18n.DEFAULT) -> PendingUpload:
    """Claim a staged upload for confirmation: once, by its uploader, before expiry.

    The claim is one conditional UPDATE, so two confirms racing get one winner. Call it
    inside the importer's `in_transaction()` so a failing import releases the claim."""
    from core import audit

    pending = await get_pending(token, user, importer, lang)
    if pending.status != "pending":
        raise PendingError("upload_already_confirmed", i18n.t("upload.pending_used", lang),
                           status=409)
    if pending.expires_at <= _now():
        raise PendingError("upload_expired", i18n.t("upload.pending_expired", lang), status=409)
    if pending.preview.get("errors") and not allow_errors:
        raise PendingError("upload_has_errors", i18n.t("upload.pending_has_errors", lang,
                                                       count=len(pending.preview["errors"])),
                           status=422)
    now = _now()
    claimed = await PendingUpload.filter(id=pending.id, status="pending", expires_at__gt=now).update(
        status="confirmed", confirmed_at=now)
    if claimed != 1:
        raise PendingError("upload_already_confirmed", i18n.t("upload.pending_used", lang),
                           status=409)
    pending.status, pending.confirmed_at = "confirmed", now
    await audit.record("upload.confirm", "pending_upload", pending.id,
                       after={"importer": pending.importer, "filename": pending.filename,
                              "sha256": pending.sha256})
    return pending


async def discard(token: str, user: Any, lang: str = i18n.DEFAULT) -> None:
    """The uploader cancels a staged upload; the file is dropped."""
    from core import audit

    pending = await get_pending(token, user, lang=lang)
    if pending.status == "pending":
        await PendingUpload.filter(id=pending.id, status="pending").update(status="discarded",
                                                                           data=b"")
        await audit.record("upload.discard", "pending_upload", pending.id,
                           after={"importer": pending.importer, "filename": pending.filename})


def preview_context(pending: PendingUpload, *, confirm_url: str, marked_url: str = "",
                    cancel_url: str = "", back_url: str = "", title: str = "") -> dict[str, Any]:
    """Context for the generic page: `web.page(request, "upload_preview.html", **ctx)`."""

    return {"pending": pending, "preview": pending.preview, "confirm_url": confirm_url,
            "marked_url": marked_url, "cancel_url": cancel_url, "back_url": back_url,
            "title": title, "marked_copy": marked_copy_of(pending.filename),
            "expires": pending.expires_at.astimezone(clock.tz()).strftime("%Y-%m-%d %H:%M")}


def _xlsx_copy(source: Any, lang: str) -> tuple[Any, dict[str, str]]:
    """An openpyxl workbook holding every sheet's cells of a workbook read by the kit (its
    hidden sheets stay hidden, so a template's stamp still works when the copy is
    uploaded again), and {the source's sheet name: the copy's}."""
    import openpyxl
    from openpyxl.utils import get_column_letter as letter

    from core.xlsx import display_width, safe_sheet_name, set_safe

    book = openpyxl.Workbook()
    book.remove(book.active)
    names: dict[str, str] = {}
    for meta in source.sheets_metadata:
        try:
            grid = source.get_sheet_by_name(meta.name).to_python(skip_empty_area=False)
        except BaseException as exc:
            raise _unreadable(exc, lang) from None
        name = safe_sheet_name(meta.name)
        while name in book.sheetnames:
            name = safe_sheet_name(f"{name[:28]}_{len(book.sheetnames)}")
        names[meta.name] = name
        ws = book.create_sheet(name)
        if not str(meta.visible).endswith("Visible"):
            ws.sheet_state = "hidden"
        widths: dict[int, int] = {}
        for r, row in enumerate(grid, start=1):
            for c, value in enumerate(row, start=1):
                if value is None or value == "":
                    continue
                cell = ws.cell(r, c)
                set_safe(cell, value)
                if isinstance(value, dt.datetime):
                    cell.number_format = "yyyy-mm-dd hh:mm"
                elif isinstance(value, dt.date):
                    cell.number_format = "yyyy-mm-dd"
                widths[c] = max(widths.get(c, 8), min(60, display_width(str(value)) + 2))
        for c, width in widths.items():
            ws.column_dimensions[letter(c)].width = width
    if not book.sheetnames:
        book.create_sheet("Sheet1")
    return book, names


def marked_filename(pending: PendingUpload | str, prefix: str = "marked_") -> str:
    """The download name of the marked copy: the upload's name, as .xlsx."""
    name = PurePath(pending if isinstance(pending, str) else pending.filename or "upload.xlsx")
    return f"{prefix}{name.stem}.xlsx"


def marked_copy_of(filename: str) -> str:
    """The upload's format ("xls", "ods" …) when its marked workbook is an .xlsx copy."""
    kind = suffix_kind(filename)
    return "" if kind in (None, "xlsx") else kind


def errors_of(pending: PendingUpload) -> list[CellError]:
    return [CellError(**e) for e in pending.preview.get("errors", [])]


def marked_workbook(pending: PendingUpload, lang: str = i18n.DEFAULT) -> bytes:
    """The staged workbook with its preview's errors marked, for the download button."""
    return mark_errors(bytes(pending.data), errors_of(pending), pending.filename, lang)
