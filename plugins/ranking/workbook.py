"""The ranking workbook: summary (with a bar chart of totals), one sheet per aspect, raw
values with their sources, the indicators, and notes with the method and definition version.

`RankingBook` holds what a workbook shows, in memory, so the benchmark can time the writing
alone; `load()` fills it from a stored ranking.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from openpyxl.utils import get_column_letter

from core import clock
from core.errors import Invalid, NotFound
from core.orgs import OrgUnit
from core.xlsx import GREEN, GREY, RED, Column, WorkbookBuilder, period_subtitle
from plugins.ranking import models
from plugins.ranking.scheme import Scheme
from plugins.ranking.services import scheme_of

WRITE_ONLY_FROM = 2000  # rows; above this the kit streams (no widths from every row)
CHART_MAX_BARS = 60  # a chart of thousands of bars helps nobody: the first N places
ROW_FIELDS = ("position", "unit_code", "unit_name", "rank", "total", "prev_rank", "prev_total",
              "flag", "excluded", "missing", "aspects", "scores", "inputs")
SOURCE_LABEL = {"manual": "手工录入", "import": "Excel导入"}
METHOD_LABEL = {"ratio": "达标比例", "minmax": "极差法", "bands": "分档计分", "deduct": "按次扣分"}
STATUS_LABEL = {"draft": "草稿（未发布）", "objection": "已发布（异议期）", "final": "已发布",
                "superseded": "已发布（已被修订版取代）"}


@dataclass
class RankingBook:
    scheme: Scheme
    period: str
    group: str
    group_name: str
    status: str
    rows: list[dict[str, Any]]
    notes: list[tuple[str, Any]] = field(default_factory=list)
    unit_name: str = ""


def source_label(source: str) -> str:
    """Where an indicator's values come from, as people read it: a plugin's source by the
    title it gives (its key is for definition files)."""
    if source.startswith("plugin:"):
        from core.plugins import get_host

        key = source[len("plugin:"):]
        titles = {src.key: src.title for _, src in get_host().collect("kaohe_indicator_sources")}
        return f"插件提供：{titles[key]}" if key in titles else "插件提供"
    return SOURCE_LABEL.get(source, source)


def method_text(ind: Any) -> str:
    def n(d: Decimal | None) -> str:
        return "" if d is None else format(d.normalize(), "f")

    better = "越高越好" if ind.direction == "higher" else "越低越好"
    if ind.method == "ratio":
        how = (f"实际值÷目标值{n(ind.target)}×100" if ind.direction == "higher"
               else f"目标值{n(ind.target)}÷实际值×100，不高于目标得满分")
        return f"{METHOD_LABEL['ratio']}：{how}，封顶100（{better}）"
    if ind.method == "minmax":
        return f"{METHOD_LABEL['minmax']}：同组最好100、最差0，线性插值（{better}）"
    if ind.method == "bands":
        sign = "≥" if ind.direction == "higher" else "≤"
        bands = "；".join(f"{sign}{n(t)} 得{n(s)}" for t, s in ind.bands)
        return f"{METHOD_LABEL['bands']}：{bands}；其余得0"
    return (f"{METHOD_LABEL['deduct']}：每次扣{n(ind.points)}分，最多扣{n(ind.max_deduction)}分"
            f"（满分100）")


def _f(text: Any) -> float | None:
    return None if text is None else float(text)


def _change(row: dict[str, Any]) -> str:
    if row["rank"] is None:
        return ""
    if row["prev_rank"] is None:
        return "新"
    delta = row["prev_rank"] - row["rank"]
    return f"↑{delta}" if delta > 0 else (f"↓{-delta}" if delta < 0 else "—")


def _total_change(row: dict[str, Any]) -> float | None:
    if row["total"] is None or row["prev_total"] is None:
        return None
    return float(Decimal(row["total"]) - Decimal(row["prev_total"]))


def _flag_text(book: RankingBook) -> Callable[[dict[str, Any]], str]:
    def text(row: dict[str, Any]) -> str:
        if row["excluded"]:
            return "不参与排名：缺" + "、".join(
                book.scheme.by_key[k].name for k in row["missing"] if k in book.scheme.by_key)
        return {"top": "前列", "bottom": "末位"}.get(row["flag"], "")
    return text


def _fill(row: dict[str, Any]) -> str | None:
    if row["excluded"]:
        return GREY
    return {"top": GREEN, "bottom": RED}.get(row["flag"])


def summary_columns(book: RankingBook) -> list[Column]:
    cols = [Column("rank", "名次", kind="int"), Column("unit_code", "单位代码"),
            Column("unit_name", "单位"),
            Column("total", "总分", kind="float", get=lambda r: _f(r["total"]))]
    for a in book.scheme.aspects:
        cols.append(Column(f"a.{a.key}", f"{a.name}（{_w(a.weight)}）", kind="float",
                           get=lambda r, k=a.key: _f(r["aspects"].get(k))))
    cols += [Column("prev_rank", "上期名次", kind="int"),
             Column("change", "名次变化", get=_change),
             Column("total_change", "总分变化", kind="float", get=_total_change),
             Column("flag", "标记", get=_flag_text(book))]
    return cols


def aspect_rows(book: RankingBook, aspect: Any) -> list[dict[str, Any]]:
    """The rows of an aspect's sheet, placed by the aspect's score: equal scores share a
    place and the next is skipped (1, 2, 2, 4). Units outside the ranking have no place."""
    def score(row: dict[str, Any]) -> Any:
        return row["aspects"].get(aspect.key) if row["rank"] is not None else None

    placed = sorted((r for r in book.rows if score(r) is not None),
                    key=lambda r: (-Decimal(str(score(r))), r["position"]))
    out, last, place = [], None, 0
    for n, row in enumerate(placed, start=1):
        value = Decimal(str(score(row)))
        if value != last:
            place, last = n, value
        out.append({**row, "aspect_rank": place})
    out += [{**r, "aspect_rank": None} for r in book.rows if score(r) is None]
    return out


def aspect_columns(book: RankingBook, aspect: Any) -> list[Column]:
    cols = [Column("aspect_rank", "方面名次", kind="int"), Column("unit_code", "单位代码"),
            Column("unit_name", "单位"), Column("rank", "总分名次", kind="int"),
            Column("aspect", f"{aspect.name}得分", kind="float",
                   get=lambda r, k=aspect.key: _f(r["aspects"].get(k)))]
    for ind in aspect.indicators:
        cols.append(Column(f"s.{ind.key}", f"{ind.name}（{_w(ind.weight)}）", kind="float",
                           get=lambda r, k=ind.key: _f(r["scores"].get(k))))
    return cols


def raw_columns(book: RankingBook) -> list[Column]:
    cols = [Column("unit_code", "单位代码"), Column("unit_name", "单位")]
    for ind in book.scheme.indicators:
        unit = f"（{ind.unit}）" if ind.unit else ""
        cols.append(Column(f"v.{ind.key}", f"{ind.name}{unit}\n{source_label(ind.source)}",
                           kind="float", wrap=False, group=ind.aspect,
                           get=lambda r, k=ind.key: _f(r["inputs"].get(k, {}).get("v"))))
    return cols


def indicator_rows(book: RankingBook) -> list[dict[str, Any]]:
    out = []
    for a in book.scheme.aspects:
        for ind in a.indicators:
            out.append({"aspect": f"{a.name}（{_w(a.weight)}）", "key": ind.key,
                        "name": ind.name + ("（核心指标）" if ind.core else ""),
                        "unit": ind.unit, "source": source_label(ind.source),
                        "method": method_text(ind), "weight": float(ind.weight),
                        "effective": float(a.weight * ind.weight / 100)})
    return out


INDICATOR_COLUMNS = [Column("aspect", "方面（权重）", width=14, wrap=True),
                     Column("key", "指标代码"), Column("name", "指标", width=24, wrap=True),
                     Column("unit", "计量单位"), Column("source", "来源", width=20, wrap=True),
                     Column("method", "计分方法", width=40, wrap=True),
                     Column("weight", "方面内权重", kind="float"),
                     Column("effective", "折合总分权重", kind="float")]


def _w(d: Decimal) -> str:
    return format(d.normalize(), "f")


def write(book: RankingBook) -> bytes:
    """The workbook's bytes; A4 landscape, header rows repeated, top green, bottom red."""
    big = len(book.rows) > WRITE_ONLY_FROM
    wb = WorkbookBuilder(write_only=big)
    # Printed pages of a wide sheet repeat the place, the unit code and the unit.
    title = f"工作绩效排位 · {book.group_name}"
    subtitle = period_subtitle(book.period, book.unit_name or None) + \
        f" · {STATUS_LABEL.get(book.status, book.status)}"
    ws = wb.add_table(sheet="排位汇总", title=title, subtitle=subtitle,
                      columns=summary_columns(book), rows=book.rows, row_fill=_fill, keys=3)
    ranked = [r for r in book.rows if r["rank"] is not None]
    if ranked:
        info = wb.table(ws)
        saved = info.last_row
        info.last_row = info.first_row + min(len(ranked), CHART_MAX_BARS) - 1
        wb.add_bar_chart(ws, category="unit_name", values=["total"],
                         title="总分" if len(ranked) <= CHART_MAX_BARS
                         else f"总分（前{CHART_MAX_BARS}名）", y_title="分")
        info.last_row = saved
    detail = _plain_table if big else _styled_table
    for aspect in book.scheme.aspects:
        detail(wb, aspect.name, f"{aspect.name} · 指标得分", subtitle,
               aspect_columns(book, aspect), aspect_rows(book, aspect))
    detail(wb, "原始数据", "原始数据及来源", subtitle, raw_columns(book), book.rows)
    wb.add_table(sheet="指标体系", title="指标体系、来源与计分方法", subtitle=subtitle,
                 columns=INDICATOR_COLUMNS, rows=indicator_rows(book), keys=3)
    wb.add_notes("说明", "计分说明", book.notes or default_notes(book))
    return wb.to_bytes()


def _styled_table(wb: WorkbookBuilder, sheet: str, title: str, subtitle: str,
                  columns: list[Column], rows: Sequence[dict[str, Any]]) -> None:
    wb.add_table(sheet=sheet, title=title, subtitle=subtitle, columns=columns, rows=rows,
                 row_fill=_fill, keys=_keys(columns))


def _keys(columns: list[Column]) -> int:
    """Leading columns naming the unit (名次, 单位代码, 单位), repeated on printed pages."""
    names = ("rank", "aspect_rank", "unit_code", "unit_name")
    n = 0
    while n < len(columns) and columns[n].key in names:
        n += 1
    return n


def _plain_table(wb: WorkbookBuilder, sheet: str, title: str, subtitle: str,
                 columns: list[Column], rows: Sequence[dict[str, Any]]) -> None:
    """A big ranking's detail sheet: the kit writes the title, header, widths and print
    set-up; the data rows go in as plain values (no borders or number formats, so numbers
    show as entered, e.g. 83.8 for 83.80). Styling every cell of a 10,000-unit workbook
    costs about as much again as writing it; the summary sheet keeps full styling."""
    from openpyxl.cell import Cell

    from core.xlsx import HEADER_ROW, display_width, is_formula_like, set_safe

    widths = []
    for col in columns:
        if col.kind == "text" and col.width is None:
            sample = (str(col.value(r) or "") for r in rows[:500])
            widest = max((display_width(t) for t in sample), default=0)
            col = Column(col.key, col.header, col.kind, width=max(8, min(40, widest + 2)),
                         get=col.get)
        widths.append(col)
    ws = wb.add_table(sheet=sheet, title=title, subtitle=subtitle, columns=widths, rows=[],
                      keys=_keys(columns))
    # The kit streams its own prepared cells; plain values use openpyxl's converter.
    ws.__dict__.pop("_values_to_row", None)
    getters = [c.get or (lambda r, k=c.key: r.get(k)) for c in columns]
    texts = [i for i, c in enumerate(columns) if c.kind == "text"]
    n = 0
    for row in rows:
        values = [g(row) for g in getters]
        for i in texts:  # user text never becomes a formula, styled or not
            if is_formula_like(values[i]):
                # A placed cell: openpyxl's converter prints it (coordinate) before taking it.
                cell = Cell(ws, row=1, column=i + 1)
                set_safe(cell, values[i])
                values[i] = cell
        ws.append(values)
        n += 1
    info = wb.table(ws)
    info.last_row = info.first_row + n - 1
    last = get_column_letter(len(columns))
    ws.auto_filter.ref = f"A{HEADER_ROW}:{last}{max(HEADER_ROW, info.last_row)}"


def default_notes(book: RankingBook) -> list[tuple[str, Any]]:
    s = book.scheme
    return [
        ("计分", "每个指标满分100分，按所列计分方法计分；方面得分为方面内各指标得分按权重加权"
                 "（权重合计100）；总分为各方面得分按方面权重加权（权重合计100）。各级得分均四舍五入"
                 "保留两位小数。"),
        ("名次", "按总分从高到低排列；总分相同者名次并列，下一名次顺延（如1、2、2、4）。"
                 "各方面工作表的“方面名次”按该方面得分排列，规则相同；“总分名次”为排位汇总中的名次。"),
        ("缺失值", "缺失值计0分" if s.missing == "zero" else "有缺失值的单位不参与排名"),
        ("前列/末位", f"前{s.top_n}名标绿，末{s.bottom_n}名标红（并列者一并标注）。"),
    ]


async def load(period: str | None, group: str | None, unit: str | None = None,
               draft: bool = False) -> tuple[RankingBook, models.Ranking]:
    """The published ranking of a group and period (the draft only when asked for)."""
    if not period:
        raise Invalid("period_required", "period: the ranking workbook needs a period",
                      field="period")
    if not group:
        raise Invalid("group_required", "group: the ranking workbook needs a peer group "
                                        "(--group)", field="group")
    qs = models.Ranking.filter(period=period, group=group)
    ranking = await qs.filter(status__in=("objection", "final")).order_by("-revision").first()
    if ranking is None and draft:
        ranking = await qs.filter(status="draft").order_by("-revision").first()
    if ranking is None:
        raise NotFound("no_ranking", f"no published ranking of group '{group}' for period "
                                     f"'{period}'", field="period")
    return await book_of(ranking, unit), ranking


async def book_of(ranking: models.Ranking, unit: str | None = None) -> RankingBook:
    scheme_row = await models.Scheme.get(id=ranking.scheme_id)
    scheme = scheme_of(scheme_row)
    qs = models.RankingRow.filter(ranking_id=ranking.id)
    unit_name = ""
    if unit:
        parent = await OrgUnit.get_or_none(code=unit)
        if parent is None:
            raise NotFound("unknown_unit", f"unit: no org unit '{unit}'", field="unit")
        codes = await OrgUnit.filter(path__startswith=parent.path).values_list("code", flat=True)
        qs = qs.filter(unit_code__in=list(codes))
        unit_name = parent.name
    rows = await qs.order_by("position").values(*ROW_FIELDS)
    group = scheme.group(ranking.group)
    book = RankingBook(scheme, ranking.period, ranking.group, group.name if group else ranking.group,
                       ranking.status, rows, unit_name=unit_name)
    book.notes = default_notes(book) + notes_of(ranking, scheme_row)
    return book


def notes_of(ranking: models.Ranking, scheme_row: models.Scheme) -> list[tuple[str, Any]]:

    def when(v: Any) -> str:
        return v.astimezone(clock.tz()).strftime("%Y-%m-%d %H:%M") if v else "-"

    return [
        ("排位编号", f"#{ranking.id}（第{ranking.revision}版）"),
        ("状态", STATUS_LABEL.get(ranking.status, ranking.status)),
        ("考核方案", f"{ranking.definition_slug} 第{ranking.definition_version}版"),
        ("指标体系SHA-256", scheme_row.sha256),
        ("输入数据SHA-256", ranking.inputs_sha256),
        ("结果SHA-256", ranking.results_sha256),
        ("计算时间", f"{when(ranking.computed_at)}（{ranking.computed_by}）"),
        ("发布时间", f"{when(ranking.published_at)}（{ranking.published_by or '-'}）"),
        ("异议期至", str(ranking.objection_until or "无")),
        ("对比期", ranking.previous_period or "无"),
        ("核验", f"kaohe ranking verify --period {ranking.period} --group {ranking.group}"),
    ]


def sheet_cells(book: RankingBook) -> list[tuple[str, list[Column], Sequence[dict[str, Any]]]]:
    """Every table sheet with its columns and rows (the benchmark writes the same cells)."""
    out = [("排位汇总", summary_columns(book), book.rows)]
    out += [(a.name, aspect_columns(book, a), book.rows) for a in book.scheme.aspects]
    out += [("原始数据", raw_columns(book), book.rows),
            ("指标体系", INDICATOR_COLUMNS, indicator_rows(book))]
    return out
