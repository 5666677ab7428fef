"""What a download is called and what it is: the media types the platform serves and the one
Content-Disposition header (RFC 6266, with the RFC 5987 UTF-8 name for Chinese file names).
No web imports: mail attachments and the archive use the same names."""

from __future__ import annotations

import re
from pathlib import PurePath
from urllib.parse import quote

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MEDIA_TYPES = {
    ".xlsx": XLSX,
    ".docx": DOCX,
    ".xls": "application/vnd.ms-excel",
    ".doc": "application/msword",
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".csv": "text/csv; charset=utf-8",
    ".zip": "application/zip",
    ".txt": "text/plain; charset=utf-8",
}
OCTET = "application/octet-stream"
_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/]')


def media_type(filename: str) -> str:
    return MEDIA_TYPES.get(PurePath(filename).suffix.lower(), OCTET)


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """`attachment; filename="…"; filename*=UTF-8''…`: an ASCII stand-in for old clients and
    the exact UTF-8 name for every current one; quotes, slashes and control characters never
    reach the header."""
    name = _UNSAFE.sub("_", PurePath(filename.replace("\\", "/")).name or "download")
    ascii_name = re.sub(r"[^\x20-\x7e]+", "_", name).strip("_ ")
    if not ascii_name or ascii_name.startswith("."):
        ascii_name = "download" + PurePath(name).suffix.encode("ascii", "ignore").decode()
    kind = "inline" if inline else "attachment"
    if ascii_name == name:
        return f'{kind}; filename="{name}"'
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
