"""Official documents (公文) as .docx, laid out after GB/T 9704-2012 党政机关公文格式.

A plugin's document exporter (kind "document") fills an `OfficialDocument` and returns
`render(doc)`. The issuing office, document-number pattern and signatory come from the
assessment definition's [documents] section (`office()`):

    [documents]
    issuer = "中共贵阳市委组织部"                 # 发文机关 (标志 is "{issuer}文件")
    code = "筑组"                                # 机关代字
    number_pattern = "{code}〔{year}〕{seq}号"    # 发文字号
    signatory = "中共贵阳市委组织部"              # 发文机关署名
    recipients = "各区（市、县）委组织部："         # 主送机关
    copy_to = ["市委办公厅", "市纪委监委"]        # 版记 抄送
    printer = "中共贵阳市委组织部办公室"           # 版记 印发机关

Layout (GB/T 9704): A4; margins top 37 mm, bottom 35 mm, left 28 mm, right 26 mm (版心
156 × 225 mm); 22 lines of 28 characters of 3号 (16 pt) 仿宋; the 发文机关标志 in red 小标宋
with a red separator line; 标题 2号 (22 pt) 小标宋; 成文日期 in Arabic numerals; 版记 with
抄送 and 印发机关和日期 between rules; page numbers "— 1 —" in 4号宋体. The fonts are named as
Chinese Windows and WPS name them; where a machine lacks one (LibreOffice on Linux), it draws
the text with its CJK fallback font.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass, field
from typing import Any

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
HEADING_FONT = "黑体"  # 一、 level headings
PAGE_FONT = "宋体"
RED = RGBColor(0xE6, 0x00, 0x12)  # the red of 红头 documents
BODY_PT = 16  # 3号
TITLE_PT = 22  # 2号
NOTE_PT = 14  # 4号: 版记, page numbers
LINES = 22  # a page; 28 characters of 16 pt fill the 156 mm line by themselves
TEXT_HEIGHT_MM, TEXT_WIDTH_MM = 225, 156
LINE_PITCH = Pt(TEXT_HEIGHT_MM / 25.4 * 72 / LINES)  # 28.95 pt: 22 lines fill the 版心
SECTION_KEYS = {"issuer", "mark", "code", "number_pattern", "signatory", "recipients",
                "copy_to", "printer"}
REQUIRED = ("issuer", "code", "number_pattern", "signatory")
PLACEHOLDERS = {"code", "year", "seq"}


@dataclass(frozen=True)
class Office:
    """The [documents] section of the assessment definition."""

    issuer: str
    code: str
    number_pattern: str
    signatory: str
    mark: str = ""
    recipients: str = ""
    copy_to: tuple[str, ...] = ()
    printer: str = ""

    def number(self, year: int, seq: int) -> str:
        return self.number_pattern.format(code=self.code, year=year, seq=seq)


@dataclass
class OfficialDocument:
    title: str
    body: list[Any]  # paragraphs (str), headings ("# 一、…"), or Table
    date: dt.date
    seq: int
    recipients: str = ""  # replaces the office's 主送 when given
    attachments: list[str] = field(default_factory=list)
    kind_note: str = ""  # e.g. 通报批评: shown nowhere but in the core properties


@dataclass
class Table:
    header: list[str]
    rows: list[list[Any]]
    widths_mm: list[float] = field(default_factory=list)


def validate(section: Any) -> list[str]:
    """Errors of a [documents] section, each starting with its key path."""
    p = "documents"
    if not isinstance(section, dict):
        return [f"{p}: expected a table ([documents])"]
    errors = [f"{p}.{k}: unknown key (known: {', '.join(sorted(SECTION_KEYS))})"
              for k in section if k not in SECTION_KEYS]
    for key in REQUIRED:
        if not isinstance(section.get(key), str) or not section[key].strip():
            errors.append(f"{p}.{key}: required text")
    for key in ("mark", "recipients", "printer"):
        if key in section and not isinstance(section[key], str):
            errors.append(f"{p}.{key}: expected text")
    copy_to = section.get("copy_to", [])
    if not isinstance(copy_to, list) or not all(isinstance(c, str) and c.strip()
                                                for c in copy_to):
        errors.append(f"{p}.copy_to: expected a list of office names")
    pattern = section.get("number_pattern")
    if isinstance(pattern, str) and pattern.strip():
        names = set(re.findall(r"{(\w*)}", pattern))
        unknown = names - PLACEHOLDERS
        if unknown:
            errors.append(f"{p}.number_pattern: unknown placeholder "
                          f"{', '.join('{' + n + '}' for n in sorted(unknown))} (known: "
                          "{code}, {year}, {seq})")
        elif not {"year", "seq"} <= names:
            errors.append(f"{p}.number_pattern: must contain {{year}} and {{seq}}, e.g. "
                          "\"{code}〔{year}〕{seq}号\"")
        else:
            try:
                pattern.format(code="x", year=2014, seq=1)
            except (ValueError, IndexError) as exc:
                errors.append(f"{p}.number_pattern: {exc}")
    return errors


def office_from(section: dict[str, Any]) -> Office:
    return Office(issuer=section["issuer"], code=section["code"],
                  number_pattern=section["number_pattern"], signatory=section["signatory"],
                  mark=section.get("mark", ""), recipients=section.get("recipients", ""),
                  copy_to=tuple(section.get("copy_to", [])), printer=section.get("printer", ""))


async def office() -> Office:
    """The current assessment definition's issuing office; a clear error without one."""
    from core.assessments import latest_data
    from core.errors import Invalid

    section = (await latest_data()).get("documents")
    if not section:
        raise Invalid("no_documents_section", "documents: the assessment definition has no "
                      "[documents] section (issuer, code, number_pattern, signatory)",
                      field="documents")
    return office_from(section)


def title_lines(title: str) -> list[str]:
    """A long 标题 on lines of even length (GB/T 9704 7.3.1: 梯形或菱形, no lone character
    on the last line)."""
    def width(text: str) -> int:  # half-width characters count one, CJK two
        return sum(1 if ord(c) < 0x2E80 else 2 for c in text)

    # 20 characters fit; two are kept free for fonts whose digits are wider than half.
    per_line = 2 * (int(TEXT_WIDTH_MM / 25.4 * 72 / TITLE_PT) - 2)
    count = -(-width(title) // per_line)
    target = width(title) / count
    lines, line = [], ""
    for char in title:
        # Closing punctuation never starts a line (避头).
        if (line and len(lines) < count - 1 and width(line + char) > target + 1
                and char not in "）》」』，。、；：！？"):
            lines.append(line)
            line = ""
        line += char
    return [*lines, line]


def cn_date(day: dt.date) -> str:
    """成文日期 in Arabic numerals, no leading zeros (GB/T 9704-2012 7.3.5.3)."""
    return f"{day.year}年{day.month}月{day.day}日"


# -- rendering -----------------------------------------------------------------------------
def _font(run: Any, name: str, size: float, bold: bool = False, color: RGBColor | None = None
          ) -> None:
    run.font.name = name
    run.font.size = Pt(size)
    run.font.bold = bold
    if color is not None:
        run.font.color.rgb = color
    fonts = run._element.get_or_add_rPr().get_or_add_rFonts()
    for attr in ("w:eastAsia", "w:ascii", "w:hAnsi"):
        fonts.set(qn(attr), name)


def _para(doc: Any, text: str = "", *, font: str = BODY_FONT, size: float = BODY_PT,
          align: Any = None, indent_chars: float = 0, bold: bool = False,
          color: RGBColor | None = None, right_chars: float = 0, exact: bool = True) -> Any:
    p = doc.add_paragraph()
    fmt = p.paragraph_format
    fmt.space_before = fmt.space_after = Pt(0)
    if exact:
        fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        fmt.line_spacing = LINE_PITCH
    if align is not None:
        p.alignment = align
    if indent_chars:
        fmt.first_line_indent = Pt(size * indent_chars)
    if right_chars:
        fmt.right_indent = Pt(size * right_chars)
    if text:
        _font(p.add_run(text), font, size, bold, color)
    return p


def _rule(paragraph: Any, color: str = "000000", size: int = 8, where: str = "bottom") -> None:
    """A horizontal line under (or over) a paragraph, as wide as the 版心."""
    ppr = paragraph._p.get_or_add_pPr()
    borders = ppr.find(qn("w:pBdr"))
    if borders is None:
        borders = OxmlElement("w:pBdr")
        ppr.append(borders)
    line = OxmlElement(f"w:{where}")
    line.set(qn("w:val"), "single")
    line.set(qn("w:sz"), str(size))
    line.set(qn("w:space"), "1")
    line.set(qn("w:color"), color)
    borders.append(line)


def _page_numbers(section: Any) -> None:
    """"— 1 —" in 4号宋体 at the foot of every page."""
    footer = section.footer
    p = footer.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _font(p.add_run("— "), PAGE_FONT, NOTE_PT)
    run = p.add_run()
    _font(run, PAGE_FONT, NOTE_PT)
    for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
        if kind:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        else:
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = text
        run._r.append(el)
    _font(p.add_run(" —"), PAGE_FONT, NOTE_PT)


def _grid(section: Any) -> None:
    """The document grid: 22 lines a page and 28 characters a line."""
    sect = section._sectPr
    grid = sect.find(qn("w:docGrid"))
    if grid is None:
        grid = OxmlElement("w:docGrid")
        sect.append(grid)
    # A line grid only: 28 characters of 16 pt fill the 156 mm line by themselves, and a
    # character grid is read differently by Word and LibreOffice (which spread the text).
    grid.set(qn("w:type"), "lines")
    grid.set(qn("w:linePitch"), str(int(LINE_PITCH.pt * 20)))


def _table(doc: Any, table: Table) -> None:
    t = doc.add_table(rows=1, cols=len(table.header))
    t.style = "Table Grid"
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(t.rows[0].cells, table.header, strict=True):
        cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
        _font(cell.paragraphs[0].add_run(str(text)), HEADING_FONT, NOTE_PT)
    for row in table.rows:
        cells = t.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
            _font(cell.paragraphs[0].add_run("" if value is None else str(value)),
                  BODY_FONT, NOTE_PT)
    for i, width in enumerate(table.widths_mm):
        for row in t.rows:
            row.cells[i].width = Mm(width)


def render(doc_: OfficialDocument, office_: Office) -> bytes:
    """The .docx bytes of one document."""
    doc = Document()
    doc.core_properties.title = doc_.title
    doc.core_properties.author = office_.issuer
    doc.core_properties.subject = doc_.kind_note
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.footer_distance = Mm(20)
    _grid(section)
    _page_numbers(section)
    normal = doc.styles["Normal"]
    normal.font.name, normal.font.size = BODY_FONT, Pt(BODY_PT)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), BODY_FONT)

    # 版头: 发文机关标志 (red), two blank lines, 发文字号, the red separator line.
    mark = office_.mark or f"{office_.issuer}文件"
    size = min(36.0, TEXT_WIDTH_MM / 25.4 * 72 / max(len(mark), 1) - 2)  # one line
    p = _para(doc, mark, font=TITLE_FONT, size=size, align=WD_ALIGN_PARAGRAPH.CENTER,
              color=RED, exact=False)
    p.paragraph_format.space_before = Pt(LINE_PITCH.pt)
    _para(doc)
    _para(doc)
    number = _para(doc, office_.number(doc_.date.year, doc_.seq),
                   align=WD_ALIGN_PARAGRAPH.CENTER)
    _rule(number, "E60012", 18)
    _para(doc)
    # 标题: 2号小标宋, centred, below one blank line.
    title = _para(doc, font=TITLE_FONT, size=TITLE_PT, align=WD_ALIGN_PARAGRAPH.CENTER)
    title.paragraph_format.line_spacing = Pt(TITLE_PT * 1.5)
    for i, line in enumerate(title_lines(doc_.title)):
        run = title.add_run(line)
        _font(run, TITLE_FONT, TITLE_PT)
        if i:
            run._r.insert(0, OxmlElement("w:br"))
    _para(doc)
    # 主送机关, then 正文 (first line indented two characters).
    recipients = doc_.recipients or office_.recipients
    if recipients:
        _para(doc, recipients if recipients.endswith("：") else recipients + "：")
    for item in doc_.body:
        if isinstance(item, Table):
            _table(doc, item)
        elif item.startswith("# "):
            _para(doc, item[2:], font=HEADING_FONT, indent_chars=2)
        else:
            _para(doc, item, indent_chars=2)
    # 附件说明: one blank line below the text, "附件：1. …".
    if doc_.attachments:
        _para(doc)
        for i, name in enumerate(doc_.attachments, 1):
            label = "附件：" if i == 1 else "　　　"
            number_ = f"{i}. " if len(doc_.attachments) > 1 else ""
            _para(doc, f"{label}{number_}{name}", indent_chars=2)
    # 发文机关署名 and 成文日期, right-aligned, four characters in from the right edge.
    _para(doc)
    _para(doc)
    _para(doc, office_.signatory, align=WD_ALIGN_PARAGRAPH.RIGHT, right_chars=4)
    _para(doc, cn_date(doc_.date), align=WD_ALIGN_PARAGRAPH.RIGHT, right_chars=4)
    # 版记: 抄送 and 印发机关和日期 between rules, in 4号仿宋.
    _para(doc)
    first = None
    if office_.copy_to:
        first = _para(doc, "抄送：" + "，".join(office_.copy_to) + "。", size=NOTE_PT)
        first.paragraph_format.left_indent = first.paragraph_format.right_indent = Pt(NOTE_PT)
    printed = _para(doc, f"{office_.printer or office_.issuer}", size=NOTE_PT)
    printed.paragraph_format.left_indent = Pt(NOTE_PT)
    printed.paragraph_format.tab_stops.add_tab_stop(Mm(TEXT_WIDTH_MM) - Pt(NOTE_PT * 2),
                                                    alignment=2)  # right
    _font(printed.add_run(f"\t{cn_date(doc_.date)}印发"), BODY_FONT, NOTE_PT)
    _rule(first or printed, "000000", 8, "top")
    _rule(printed, "000000", 8, "bottom")
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
