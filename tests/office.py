"""LibreOffice headless and poppler for tests: print files to PDF, read the PDF back.

`python -m tests` installs them (tests/__main__.py ensure_office); run alone, a test that
needs them skips with the reason, except under CI (CI=true), where it fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
PAGE_NUMBER = re.compile(r"第\s*(\d+)\s*页\s*共\s*(\d+)\s*页")


def need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        reason = (f"{', '.join(missing)} not installed (python -m tests installs "
                  "libreoffice-calc-nogui, libreoffice-writer-nogui and poppler-utils)")
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)


def convert(files: list[Path], target: str, outdir: Path, timeout: int = 600) -> dict[Path, Path]:
    """Convert files in one soffice run (its start-up is most of the time), with a private
    profile so parallel runs and the machine's own profile do not meet. `target` is
    soffice's `--convert-to` argument: "pdf", "xls:MS Excel 97", "ods",
    "csv:Text - txt - csv (StarCalc):44,34,76,1" (comma, UTF-8; 85 is GB18030)."""
    need("soffice")
    outdir.mkdir(parents=True, exist_ok=True)
    profile = Path(tempfile.mkdtemp(prefix="kaohe-lo-"))
    try:
        subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless",
                        "--convert-to", target, "--outdir", str(outdir), *map(str, files)],
                       check=True, capture_output=True, timeout=timeout)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    extension = target.split(":", 1)[0]
    out = {f: outdir / f"{f.stem}.{extension}" for f in files}
    for src, made in out.items():
        assert made.is_file(), f"LibreOffice made no .{extension} of {src.name}"
    return out


def to_pdf(files: list[Path], outdir: Path, timeout: int = 600) -> dict[Path, Path]:
    need("soffice", "pdftotext")
    return convert(files, "pdf", outdir, timeout)


_COPIES: dict[tuple[str, str], bytes] = {}


def office_copies(workbooks: dict[str, bytes], target: str) -> dict[str, bytes]:
    """{name: bytes of the workbook saved by LibreOffice as `target`}, converted in one
    run and kept for the test session (the same workbook converted twice is converted
    once). Names are file names with their extension, e.g. "report.xlsx"."""
    import hashlib

    key = {name: (hashlib.sha256(data).hexdigest(), target) for name, data in workbooks.items()}
    todo = {name: data for name, data in workbooks.items() if key[name] not in _COPIES}
    if todo:
        work = Path(tempfile.mkdtemp(prefix="kaohe-office-"))
        try:
            sources = []
            for name, data in todo.items():
                (work / "in").mkdir(exist_ok=True)
                sources.append(work / "in" / name)
                sources[-1].write_bytes(data)
            made = convert(sources, target, work / "out")
            for name, src in zip(todo, sources, strict=True):
                _COPIES[key[name]] = made[src].read_bytes()
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return {name: _COPIES[key[name]] for name in workbooks}


def pdf_text(pdf: Path, layout: bool = False) -> str:
    args = ["pdftotext", *(["-layout"] if layout else []), str(pdf), "-"]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def pdf_pages(pdf: Path) -> list[str]:
    return pdf_text(pdf).split("\f")[:-1]


def word_heights(pdf: Path) -> list[float]:
    """The height in points of every word pdftotext finds (about its font size)."""
    html = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    return [float(b) - float(a) for a, b in
            re.findall(r'<word xMin="[\d.]+" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)"',
                       html)]
