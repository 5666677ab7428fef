"""What an upload is, decided from its content, not from its name.

    kind = decide(data, "名册.xls", accept=WORKBOOKS)   # "xls", or UploadRejected

The first bytes say it: an OLE2 compound file is a legacy Excel workbook (.xls); a zip is
an Office Open XML workbook (`xl/workbook.xml`, .xlsx), a binary one (`xl/workbook.bin`,
.xlsb) or an OpenDocument spreadsheet (its `mimetype` entry, .ods); text in UTF-8 or
GB18030 is CSV. A name whose extension says otherwise is refused (a renamed file reads
wrongly elsewhere too), as is a format the importer does not take.
"""

from __future__ import annotations

import codecs
import io
import zipfile
from pathlib import PurePath

from core import i18n
from core.errors import KaoheError

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"
# Extension each format is saved with, as people see it.
SUFFIX = {"xlsx": ".xlsx", "xls": ".xls", "xlsb": ".xlsb", "ods": ".ods", "csv": ".csv"}
WORKBOOKS = ("xlsx", "xls", "xlsb", "ods")
WITH_CSV = (*WORKBOOKS, "csv")
# Text this long is enough to tell CSV from binary without decoding a whole upload twice.
SNIFF_TEXT = 64 * 1024


class UploadRejected(KaoheError):
    """The whole file is refused (format, size, bomb, header). `errors` are CellErrors."""

    status = 422

    def __init__(self, code: str, message: str, *, errors=(), status: int | None = None):
        self.errors = list(errors)
        super().__init__(code, message, status=status,
                         details=[e.as_dict() for e in self.errors] or None)


def suffix_kind(filename: str) -> str | None:
    suffix = PurePath(filename or "").suffix.lower()
    return next((k for k, s in SUFFIX.items() if s == suffix), None)


def sniff(data: bytes) -> str | None:
    """The format of the content, or None for anything else (a .docx, an image, a PDF)."""
    if data.startswith(OLE2_MAGIC):
        return "xls"  # the guard tells an encrypted .xlsx or a Word file apart
    if data.startswith(ZIP_MAGIC):
        return _zip_kind(data)
    return "csv" if _text(data[:SNIFF_TEXT]) else None


def _zip_kind(data: bytes) -> str | None:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        names = {n.lower(): n for n in zf.namelist()}
    except (zipfile.BadZipFile, ValueError, OSError):
        return None
    if "xl/workbook.xml" in names:
        return "xlsx"
    if "xl/workbook.bin" in names:
        return "xlsb"
    if "mimetype" in names:
        try:
            with zf.open(names["mimetype"]) as fh:  # a few bytes, whatever it claims to hold
                head = fh.read(len(ODS_MIMETYPE) + 8)
        except (zipfile.BadZipFile, ValueError, OSError, NotImplementedError):
            return None
        if head.strip() == ODS_MIMETYPE:
            return "ods"
    return None


def _text(head: bytes) -> bool:
    """UTF-8 or GB18030 text without control bytes other than tab and line ends. The
    head may end inside a character: incremental decoders keep the last bytes unjudged."""
    if not head or b"\x00" in head:
        return False
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        return not any(ord(ch) < 32 and ch not in "\t\r\n" for ch in text)
    return False


def label(kind: str, lang: str = i18n.DEFAULT) -> str:
    return i18n.t(f"upload.format.name_{kind}", lang)


def accepted_text(accept: tuple[str, ...]) -> str:
    return "、".join(SUFFIX[k] for k in accept)


def decide(data: bytes, filename: str, accept: tuple[str, ...] = WORKBOOKS,
           lang: str = i18n.DEFAULT) -> str:
    """The upload's format, or UploadRejected: unknown content or extension, a known
    extension that says another format, or a format this importer does not take. A name
    without an extension (an API client's) takes the content's format."""
    t = i18n.t
    found = sniff(data)
    suffix = PurePath(filename or "").suffix.lower()
    named = suffix_kind(filename)
    shown = PurePath(filename or "").name or "upload"
    if found == "xls" and named in ("xlsx", "xlsb") and _encrypted_package(data):
        # Excel saves a workbook with an open password as an OLE2 file around the zip.
        raise UploadRejected("upload_encrypted", t("upload.format.encrypted", lang,
                                                    filename=shown))
    if (found is None and data.startswith(ZIP_MAGIC) and named in ("xlsx", "xlsb", "ods")
            and not zipfile.is_zipfile(io.BytesIO(data))):
        # A zip whose directory cannot be read: cut short in a download or a copy.
        raise UploadRejected("upload_corrupt", t("upload.format.broken_zip", lang,
                                                  filename=shown))
    if found is None or (suffix and named is None):
        raise UploadRejected("upload_unknown_format", t(
            "upload.format.unknown", lang, filename=shown, accepted=accepted_text(accept)))
    if suffix and named != found:
        raise UploadRejected("upload_format_mismatch", t(
            "upload.format.mismatch", lang, filename=shown, suffix=suffix,
            found=label(found, lang), found_suffix=SUFFIX[found]))
    if found not in accept:
        raise UploadRejected("upload_format_not_accepted", t(
            "upload.format.not_accepted", lang, filename=shown, found=label(found, lang),
            accepted=accepted_text(accept)))
    return found


def _encrypted_package(data: bytes) -> bool:
    import olefile

    try:
        with olefile.OleFileIO(data) as ole:
            return ole.exists("EncryptedPackage")
    except Exception:  # not a sound compound file: the guard says so later
        return False
