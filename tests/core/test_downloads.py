"""The one Content-Disposition header and media-type table every download uses."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest

from core import downloads


def _parsed(header: str) -> dict[str, str]:
    return dict(re.findall(r'(filename\*?)=("[^"]*"|[^;]*)', header))


@pytest.mark.parametrize("name, fallback, exact", [
    ("audit-20261202.xlsx", "audit-20261202.xlsx", None),
    ("组织名册_2014-12-31.xlsx", "2014-12-31.xlsx", "组织名册_2014-12-31.xlsx"),
    ("报送模板.xlsx", "download.xlsx", "报送模板.xlsx"),
    ('../a"b\\c/d.xlsx', "d.xlsx", None),  # no quote, backslash or folder reaches it
    ("line\r\nbreak.pdf", "line__break.pdf", None),
    ("标注错误_tasks.xlsx", "tasks.xlsx", "标注错误_tasks.xlsx"),
])
def test_names_are_safe_and_exact(name, fallback, exact):
    header = downloads.content_disposition(name)
    assert "\r" not in header and "\n" not in header and header.startswith("attachment; ")
    params = _parsed(header)
    assert params["filename"] == f'"{fallback}"'
    if exact is None:
        assert "filename*" not in params
    else:
        charset, _, value = params["filename*"].partition("''")
        assert charset == "UTF-8" and unquote(value) == exact


def test_media_types_follow_the_name():
    assert downloads.media_type("x.XLSX") == downloads.XLSX
    assert downloads.media_type("通报.docx") == downloads.DOCX
    assert downloads.media_type("evidence.exe") == downloads.OCTET
    assert downloads.content_disposition("a.pdf", inline=True).startswith("inline;")


def test_no_module_spells_out_a_download_header_or_the_xlsx_type():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = []
    for path in [*(root / "core").rglob("*.py"), *(root / "plugins").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        if path.relative_to(root).as_posix() in ("core/downloads.py", "core/web.py"):
            continue
        if "spreadsheetml.sheet" in text or "Content-Disposition" in text:
            offenders.append(str(path.relative_to(root)))
    assert offenders == []
