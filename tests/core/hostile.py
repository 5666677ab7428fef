"""Hostile workbooks of the security probe, built from a real workbook: tests and
bench/bench_hostile.py upload the same files.

Each builder takes the bytes of a legitimate workbook (so the file passes the template and
header checks a real upload passes) and replaces one part.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile

NS = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
SHEET1 = "xl/worksheets/sheet1.xml"


def replace_part(data: bytes, part: str, body: bytes, level: int = 9) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as z:
        for info in src.infolist():
            z.writestr(info.filename, body if info.filename == part else src.read(info))
        if part not in src.namelist():
            z.writestr(part, body)
    return out.getvalue()


def part_of(data: bytes, part: str) -> bytes:
    return zipfile.ZipFile(io.BytesIO(data)).read(part)


def _cell(ref: str, text: str = "x") -> bytes:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'.encode()


def sparse(data: bytes, far: str = "XFD90000", part: str = SHEET1) -> bytes:
    """The sheet keeps its own rows and gains one cell far away (A1 + XFD90000: 47 GB)."""
    body = part_of(data, part)
    row = int("".join(ch for ch in far if ch.isdigit()))
    extra = f'<row r="{row}">'.encode() + _cell(far) + b"</row>"
    return replace_part(data, part, body.replace(b"</sheetData>", extra + b"</sheetData>"))


def sparse_without_refs(rows: int = 120_000, columns: int = 300) -> bytes:
    """No `r` anywhere: the reader places cells by order, so empty rows and a long row
    of cells span the same area a far reference does."""
    wide = b"<row>" + b'<c t="inlineStr"><is><t>x</t></is></c>' * columns + b"</row>"
    return NS + b"<sheetData>" + wide + b"<row/>" * rows + wide + b"</sheetData></worksheet>"


def prefixed_sparse(far: str = "XFD90000") -> bytes:
    row = int("".join(ch for ch in far if ch.isdigit()))
    return (b'<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            b'<x:sheetData><x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>x</x:t></x:is></x:c>'
            + f'</x:row><x:row r="{row}"><x:c r="{far}" t="inlineStr"><x:is><x:t>x</x:t>'
              f'</x:is></x:c></x:row></x:sheetData></x:worksheet>'.encode())


def lying_dimension(data: bytes, ref: str = "A1:XFD1048576", part: str = SHEET1) -> bytes:
    body = part_of(data, part)
    start = body.find(b"<dimension")
    tag = f'<dimension ref="{ref}"/>'.encode()
    if start != -1:
        body = body[:start] + tag + body[body.index(b">", start) + 1:]
    else:
        body = body.replace(b"<sheetData", tag + b"<sheetData", 1)
    return replace_part(data, part, body)


def zip_bomb(data: bytes, megabytes: int = 200, part: str = SHEET1) -> bytes:
    row = b'<row><c t="inlineStr"><is><t>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA</t></is></c></row>'
    body = (NS + b"<sheetData>" + row * (megabytes * 1024 * 1024 // len(row))
            + b"</sheetData></worksheet>")
    return replace_part(data, part, body)


def lying_zip(data: bytes, part: str = SHEET1) -> bytes:
    """An 18 MB part whose local and central headers both claim 1 KB."""
    body = b"<worksheet><sheetData>" + b"<row/>" * 3_000_000 + b"</sheetData></worksheet>"
    out = bytearray(replace_part(data, part, body))
    name = part.encode()
    for magic, size_at, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        pos = out.find(magic)
        while pos != -1:
            if out[pos + name_at: pos + name_at + len(name)] == name:
                struct.pack_into("<I", out, pos + size_at, 1024)
            pos = out.find(magic, pos + 4)
    return bytes(out)


LOL = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
       + b"".join(f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 2 else "") + ";") * 10}">\n'
                  .encode() for i in range(2, 10))
       + b']>\n' + NS + b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is>'
       b"</c></row></sheetData></worksheet>")


def entity_bomb(data: bytes, part: str = SHEET1, hidden: bool = False) -> bytes:
    """Billion laughs; `hidden` puts the DOCTYPE behind 3 MB of incompressible comment."""
    body = LOL
    if hidden:
        noise = os.urandom(1_500_000).hex().encode()
        body = LOL.replace(b"<!DOCTYPE", b"<!--" + noise + b"-->\n<!DOCTYPE")
    return replace_part(data, part, body)


def shared_strings_bomb(data: bytes, count: int = 3_000_000) -> bytes:
    """Millions of distinct short strings: the reader keeps every one of them, and varied
    text compresses well below the ratio alarm."""
    items = b"".join(b"<si><t>%x</t></si>" % (i * 2654435761 % 4294967296) for i in range(count))
    body = (b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/'
            b'spreadsheetml/2006/main" count="%d" uniqueCount="%d">' % (count, count)
            + items + b"</sst>")
    return replace_part(data, "xl/sharedStrings.xml", body, level=6)
