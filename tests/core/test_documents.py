"""Official documents: the [documents] section is checked with key paths, and a rendered
.docx read back with python-docx has every part of GB/T 9704; LibreOffice prints it."""

from __future__ import annotations

import datetime as dt
import io

import docx

from core.documents import (
    BODY_FONT,
    TITLE_FONT,
    OfficialDocument,
    Table,
    office_from,
    render,
    title_lines,
    validate,
)
from tests.office import need, pdf_pages, to_pdf

SECTION = {"issuer": "中共贵阳市委组织部", "code": "筑组",
           "number_pattern": "{code}〔{year}〕{seq}号", "signatory": "中共贵阳市委组织部",
           "recipients": "各区（市、县）委组织部", "copy_to": ["市委办公厅", "市纪委监委"],
           "printer": "中共贵阳市委组织部办公室"}


def test_long_titles_break_evenly():
    assert title_lines("关于对观山湖区第08社区王芳同志的通报批评") == [
        "关于对观山湖区第08社", "区王芳同志的通报批评"]
    assert title_lines("关于2014H1考核期区（市、县）工作绩效排位情况的通报") == [
        "关于2014H1考核期区（市、县）", "工作绩效排位情况的通报"]
    assert title_lines("短标题") == ["短标题"]


def test_section_errors_name_their_key():
    assert validate(SECTION) == []
    errors = validate({"issuer": "", "code": "筑组", "number_pattern": "{code}{n}",
                       "colour": "red", "copy_to": "市委"})
    assert "documents.issuer: required text" in errors
    assert "documents.signatory: required text" in errors
    assert any(e.startswith("documents.colour: unknown key") for e in errors)
    assert any(e.startswith("documents.number_pattern: unknown placeholder {n}") for e in errors)
    assert "documents.copy_to: expected a list of office names" in errors
    assert validate({**SECTION, "number_pattern": "{code}号"})[0].startswith(
        "documents.number_pattern: must contain {year} and {seq}")
    assert validate([]) == ["documents: expected a table ([documents])"]


def make() -> bytes:
    doc = OfficialDocument(
        title="关于2014H1考核期工作绩效排位情况的通报",
        body=["现将排位情况通报如下。", "# 一、排位结果",
              Table(["名次", "单位", "总分"], [[1, "白云区", "89.58"], [2, "南明区", "86.22"]])],
        date=dt.date(2014, 7, 15), seq=12, attachments=["工作绩效排位表"], kind_note="通报")
    return render(doc, office_from(SECTION))


def test_docx_has_every_part_of_the_standard(tmp_path):
    data = make()
    d = docx.Document(io.BytesIO(data))
    section = d.sections[0]
    mm = lambda v: round(v.mm)  # noqa: E731  (stored in twips)
    assert (mm(section.page_width), mm(section.page_height)) == (210, 297)
    assert (mm(section.top_margin), mm(section.bottom_margin)) == (37, 35)
    assert (mm(section.left_margin), mm(section.right_margin)) == (28, 26)
    texts = [p.text for p in d.paragraphs]
    mark = d.paragraphs[0]
    assert mark.text == "中共贵阳市委组织部文件"
    assert str(mark.runs[0].font.color.rgb) == "E60012"  # 红头
    assert "筑组〔2014〕12号" in texts
    title = next(p for p in d.paragraphs if p.text.startswith("关于"))
    assert title.runs[0].font.size.pt == 22 and title.runs[0].font.name == TITLE_FONT
    assert title.text == "关于2014H1考核期工作\n绩效排位情况的通报"  # two even lines
    assert "各区（市、县）委组织部：" in texts  # 主送机关
    body = next(p for p in d.paragraphs if p.text == "现将排位情况通报如下。")
    assert body.runs[0].font.size.pt == 16 and body.runs[0].font.name == BODY_FONT
    assert body.paragraph_format.first_line_indent.pt == 32  # two characters
    assert "附件：工作绩效排位表" in texts
    assert texts.index("中共贵阳市委组织部") < texts.index("2014年7月15日")  # 署名, 成文日期
    assert "抄送：市委办公厅，市纪委监委。" in texts
    assert "中共贵阳市委组织部办公室\t2014年7月15日印发" in texts
    assert [c.text for c in d.tables[0].rows[1].cells] == ["1", "白云区", "89.58"]
    grid = section._sectPr.xpath("./w:docGrid")[0]
    assert grid.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}linePitch") \
        == "579"  # 22 lines in the 225 mm 版心
    # Printed by LibreOffice: the parts are on the page, with page numbers.
    need("soffice", "pdftotext")
    path = tmp_path / "notice.docx"
    path.write_bytes(data)
    pages = pdf_pages(to_pdf([path], tmp_path)[path])
    text = "".join(pages).replace(" ", "")
    for part in ("中共贵阳市委组织部文件", "筑组〔2014〕12号", "白云区", "抄送", "印发", "—1—"):
        assert part in text, part
