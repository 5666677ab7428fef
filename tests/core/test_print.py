"""Every exporter's workbook printed by LibreOffice headless and read back with pdftotext:
A4, a page number on every page, no ### cells, a legible print scale, one CJK font.

Built on the Guiyang demo (every plugin's data at real scale), plus empty exports.
"""

from __future__ import annotations

import io
import statistics

import openpyxl
import pytest

from core import demo, exports
from core.contrib import ExportRequest
from core.xlsx import FONT, MIN_SCALE
from tests.office import PAGE_NUMBER, need, pdf_pages, to_pdf, word_heights

# How each built-in exporter is asked for on the demo's data; an exporter not listed here
# (a new plugin's) fails the test until it is added.
REQUESTS = {
    "accountability-ledger": ExportRequest(period="2014"),
    "accountability-summary": ExportRequest(period="2014"),
    "coverage-instructor-compliance": ExportRequest(period="2014"),
    "coverage-should-establish": ExportRequest(period="2014"),
    "coverage-stats": ExportRequest(period="2014"),
    "ranking": ExportRequest(period="2014H1", group="districts"),
    "rectification-ledger": ExportRequest(period="2014"),
    "rectification-overdue": ExportRequest(period="2014"),
    "rectification-unit-summary": ExportRequest(period="2014"),
    "ranking-annual": ExportRequest(period="2014", group="districts"),
    "ranking-annual-grades": ExportRequest(period="2014", group="districts"),
    "satisfaction-results": ExportRequest(period="2013"),
    "satisfaction-answers": ExportRequest(period="2013"),
}
DOCUMENTS = {
    "ranking-notice": ExportRequest(period="2014H1", group="districts"),
    "accountability-criticism": ExportRequest(period="2014"),
}
# Periods with nothing in them: the export says so (and per-unit tables list the units).
EMPTY = {"rectification-ledger": "2013", "rectification-unit-summary": "2013",
         "accountability-ledger": "2013", "accountability-summary": "2013"}


@pytest.mark.once
async def test_every_export_prints_legibly_on_a4(db, settings, host, tmp_path):
    need("soffice", "pdftotext")
    await demo.build(settings, host, seed=2014)
    known = exports.exporters(host)
    workbooks = {name for name, (_, exp) in known.items() if exp.kind == "workbook"}
    assert workbooks == set(REQUESTS), f"add a request for {workbooks - set(REQUESTS)}"
    documents = {name for name, (_, exp) in known.items() if exp.kind == "document"}
    assert documents == set(DOCUMENTS), f"add a request for {documents - set(DOCUMENTS)}"
    files = {}
    for name, request in REQUESTS.items():
        files[name] = tmp_path / f"{name}.xlsx"
        files[name].write_bytes(await exports.build_export(name, request))
    for name, period in EMPTY.items():
        files[f"{name}-empty"] = tmp_path / f"{name}-empty.xlsx"
        files[f"{name}-empty"].write_bytes(await exports.build_export(
            name, ExportRequest(period=period)))
    docs = {}
    for name, request in DOCUMENTS.items():
        docs[name] = tmp_path / f"{name}.docx"
        docs[name].write_bytes(await exports.build_export(name, request))
    pdfs = to_pdf([*files.values(), *docs.values()], tmp_path / "pdf")

    for name, path in files.items():
        book = openpyxl.load_workbook(io.BytesIO(path.read_bytes()))
        for ws in book.worksheets:
            if ws.sheet_state == "hidden":
                continue
            assert int(ws.page_setup.paperSize) == 9, (name, ws.title)  # A4
            assert not ws.sheet_properties.pageSetUpPr.fitToPage, (name, ws.title)
            assert int(ws.page_setup.scale) >= MIN_SCALE, (name, ws.title)
            assert ws.oddFooter.center.text == "第 &P 页 共 &N 页", (name, ws.title)
            for row in ws.iter_rows(max_row=min(ws.max_row, 6)):
                for cell in row:
                    if cell.value is not None:
                        assert cell.font.name == FONT, (name, ws.title, cell.coordinate)
        pages = pdf_pages(pdfs[path])
        numbers = [PAGE_NUMBER.findall(p) for p in pages]
        assert all(len(n) == 1 for n in numbers), f"{name}: a page without its number"
        assert [int(n[0][0]) for n in numbers] == list(range(1, len(pages) + 1)), name
        assert {int(n[0][1]) for n in numbers} == {len(pages)}, name
        text = "\f".join(pages)
        assert "###" not in text, f"{name}: a cell too narrow for its number"
        # Word boxes are about 1.3 × the font size: 11 pt at 70 % gives 10; the shrunk
        # sheets this replaced printed at 2-3 pt (boxes of 3-4).
        heights = word_heights(pdfs[path])
        assert min(heights) >= 6.5, f"{name}: text printed at {min(heights) / 1.3:.1f} pt"
        assert statistics.median(heights) >= 9.0, name
        if name.endswith("-empty"):
            assert "本期无记录" in text, name
    # Codes are printed as names.
    ledger = "\f".join(pdf_pages(pdfs[files["rectification-ledger"]]))
    assert "public_security" not in ledger and "治安" in ledger
    # A per-unit table with nothing in it still lists the units, with zeros.
    empty_summary = "\f".join(pdf_pages(pdfs[files["accountability-summary-empty"]]))
    assert "南明区" in empty_summary and "花溪区" in empty_summary

    # The official documents print on A4 with the parts of GB/T 9704 and "— N —" numbers.
    for name, path in docs.items():
        pages = pdf_pages(pdfs[path])
        text = "".join(pages).replace(" ", "")
        for part in ("中共贵阳市委组织部文件", "筑组〔", "中共贵阳市委组织部", "抄送：", "印发"):
            assert part in text, (name, part)
        assert [f"—{i}—" in p.replace(" ", "") for i, p in enumerate(pages, 1)] == \
            [True] * len(pages), name
    notice = "".join(pdf_pages(pdfs[docs["ranking-notice"]])).replace(" ", "")
    book = openpyxl.load_workbook(io.BytesIO(files["ranking"].read_bytes()))["排位汇总"]
    first, last = book.cell(4, 3).value, book.cell(13, 3).value  # places 1 and 10
    assert first in notice.split("二、排名靠前的单位")[1].split("三、")[0]
    assert last in notice.split("三、排名靠后的单位")[1].split("四、")[0]
    assert "四、有关措施" in notice and "附件：" in notice
    criticism = "".join(pdf_pages(pdfs[docs["accountability-criticism"]])).replace(" ", "")
    assert "通报批评" in criticism and "扣" in criticism


@pytest.fixture
def settings_extra() -> str:
    return ""
