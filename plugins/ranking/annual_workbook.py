"""年度考核结果汇总表 and the grade list per peer group, as exporters
(`kaohe export ranking-annual --period 2014 --group districts`)."""

from __future__ import annotations

from typing import Any

from core.contrib import ExportRequest
from core.errors import NotFound
from core.xlsx import GREEN, GREY, RED, Column, WorkbookBuilder
from plugins.ranking import annual_models as am
from plugins.ranking import models
from plugins.ranking.annual import annual_of, latest
from plugins.ranking.annual_text import grade_name, notes_text, provenance_text, rule_text
from plugins.ranking.selfassess import provenance
from plugins.ranking.services import get_group, scheme_of

STATUS = {"draft": "草稿（未发布）", "objection": "公示中", "final": "已定稿", "superseded": "已被修订"}


async def load(request: ExportRequest) -> tuple[Any, Any, Any, list[am.AnnualRow], str]:
    year, group_key = request.period or "", request.group or ""
    result = await latest(year, group_key, published_only=not request.options.get("draft"))
    if result is None:
        raise NotFound("no_annual", f"period: no published year result for {year} and group "
                                    f"'{group_key}'", field="period")
    scheme_row = await models.Scheme.get(slug=result.definition_slug,
                                         definition_version=result.definition_version)
    scheme = scheme_of(scheme_row)
    a = await annual_of(scheme_row, scheme)
    rows = await am.AnnualRow.filter(result=result).order_by("position")
    return result, scheme, a, rows, get_group(scheme, result.group).name


def _summary_rows(a: Any, rows: list[am.AnnualRow]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        quota = next((n for n in r.notes if n["code"] == "quota"), None)
        row = {"rank": r.rank, "unit": r.unit_name, "code": r.unit_code,
               "score": float(r.score) if r.score is not None else None,
               "bonus": float(r.bonus), "deduction": float(r.deduction),
               "band": grade_name(a, r.band) if r.band else "",
               "grade": grade_name(a, r.grade) if r.grade else "未评定",
               "rule": rule_text(a, r.rule, "zh", quota) if r.rule else "",
               "notes": "；".join(notes_text(a, r.notes, "zh", r.rule)), "grade_key": r.grade}
        for c in a.components:
            v = r.components.get(c.key)
            row[f"c_{c.key}"] = float(v) if v is not None else None
        out.append(row)
    return out


def _fill(row: dict[str, Any]) -> str | None:
    return {"excellent": GREEN, "poor": RED, "": GREY}.get(row["grade_key"])


async def build_summary(request: ExportRequest) -> bytes:
    result, scheme, a, rows, group_name = await load(request)
    book = WorkbookBuilder()
    cols = [Column("rank", "名次", "int"), Column("unit", "单位"), Column("code", "代码"),
            *[Column(f"c_{c.key}", f"{c.name}（{c.weight.normalize():f}%）", "float")
              for c in a.components],
            Column("bonus", "加分", "float"), Column("deduction", "扣分", "float"),
            Column("score", "年度得分", "float"), Column("band", "分数段等次"),
            Column("grade", "等次"), Column("rule", "决定等次的规则", width=48),
            Column("notes", "说明（否决、名额、上限）", width=56)]
    title = f"{result.year}年度考核结果汇总表（{group_name}）"
    book.add_table("汇总", title, cols, _summary_rows(a, rows),
                   subtitle=f"{STATUS.get(result.status, result.status)} · 定义版本 "
                            f"{result.definition_version}", row_fill=_fill)
    _grade_sheet(book, a, rows, result, group_name)
    await _provenance_sheet(book, scheme, a, rows)
    book.add_notes("说明", "计算方法与校验", [
        ("年度", result.year), ("同类单位", group_name),
        ("构成", "；".join(f"{c.name} {c.weight.normalize():f}%（"
                          f"{'、'.join(c.periods) + '排位总分平均' if c.periods else '测评截尾平均'}）"
                          for c in a.components)),
        ("加扣分", "；".join(f"{i.name}（{'加' if i.kind == 'bonus' else '扣'}分，上限 "
                           f"{i.cap.normalize():f}）" for i in a.items)
         + f"；加分合计上限 {a.bonus_cap.normalize():f}，扣分合计上限 {a.deduction_cap.normalize():f}"),
        ("一票否决", "；".join(v.name for v in a.vetoes) or "无"),
        ("等次规则", "；".join(r.name for r in a.rules) or "无"),
        ("等次与名额", "；".join(_grade_line(g) for g in a.grades)),
        ("名额取整", {"floor": "向下取整", "half_up": "四舍五入", "ceil": "向上取整"}
         [a.quota_rounding]),
        ("同分规则", "、".join(_tie_name(a, t) for t in a.tie_break)
         + f"；仍同分：{'均顺延' if a.tie_final == 'demote' else '均保留'}"),
        ("所用排位", "；".join(f"{p} #{i}" for p, i in sorted(result.rankings.items()))),
        ("输入 SHA-256", result.inputs_sha256), ("结果 SHA-256", result.results_sha256)])
    return book.to_bytes()


def _grade_line(g: Any) -> str:
    line = f"{g.name} ≥ {g.min.normalize():f}"
    return line + (f"，至多 {g.quota.normalize():f}%" if g.quota is not None else "")


def _tie_name(a: Any, rule: str) -> str:
    key = rule.split(":", 1)[1] if rule.startswith("component:") else ""
    return next((c.name for c in a.components if c.key == key), "民主测评" if rule == "panel"
                else "加分")


def _grade_sheet(book: WorkbookBuilder, a: Any, rows: list[am.AnnualRow], result: Any,
                 group_name: str) -> None:
    order = {g.key: n for n, g in enumerate(a.grades)}
    listed = sorted((r for r in rows if r.grade), key=lambda r: (order[r.grade], r.position))
    book.add_table("等次名单", f"{result.year}年度考核等次名单（{group_name}）",
                   [Column("grade", "等次"), Column("rank", "名次", "int"), Column("unit", "单位"),
                    Column("score", "年度得分", "float")],
                   [{"grade": grade_name(a, r.grade), "rank": r.rank, "unit": r.unit_name,
                     "score": float(r.score), "grade_key": r.grade} for r in listed],
                   row_fill=_fill, landscape=False)


async def _provenance_sheet(book: WorkbookBuilder, scheme: Any, a: Any,
                            rows: list[am.AnnualRow]) -> None:
    """Each self-assessed value of the year's periods: where it came from and who changed it."""
    codes = [r.unit_code for r in rows]
    names = {r.unit_code: r.unit_name for r in rows}
    periods = a.periods
    values = await models.IndicatorValue.filter(period__in=periods, unit_code__in=codes,
                                                indicator__in=list(a.self_indicators))
    entries = {(s.period, s.unit_code, s.indicator): s for s in await am.SelfAssessment.filter(
        period__in=periods, unit_code__in=codes)}
    out = []
    for v in sorted(values, key=lambda v: (v.period, codes.index(v.unit_code), v.indicator)):
        s = entries.get((v.period, v.unit_code, v.indicator))
        ind = scheme.by_key.get(v.indicator)
        out.append({"period": v.period, "unit": names[v.unit_code],
                    "indicator": ind.name if ind else v.indicator, "value": float(v.value),
                    "provenance": provenance_text(provenance(v.origin, ind.source if ind else "")),
                    "self": float(s.value) if s else None,
                    "reviewer": s.reviewed_by if s else "", "reason": s.review_reason if s else ""})
    book.add_table("数据来源", "自评指标数据来源", [
        Column("period", "期间"), Column("unit", "单位"), Column("indicator", "指标"),
        Column("value", "采用值", "float"), Column("provenance", "来源"),
        Column("self", "自评值", "float"), Column("reviewer", "审核人"),
        Column("reason", "调整理由", wrap=True, width=40)], out)


async def build_grades(request: ExportRequest) -> bytes:
    result, _, a, rows, group_name = await load(request)
    book = WorkbookBuilder()
    _grade_sheet(book, a, rows, result, group_name)
    return book.to_bytes()
