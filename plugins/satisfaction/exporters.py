"""Workbooks: results by unit (rolled up the tree) and the answers with their flags."""

from __future__ import annotations

from typing import Any

from core.contrib import Exporter, ExportRequest
from core.errors import Invalid, NotFound
from core.i18n import t
from core.roles import ADMIN_LEADER, ADMIN_ONLY
from core.xlsx import Column, WorkbookBuilder
from plugins.satisfaction import services
from plugins.satisfaction.models import Response, Survey

PCT = "0.00"


async def _surveys(request: ExportRequest) -> list[Survey]:
    key = request.options.get("survey")
    if key:
        return [await services.get_survey(str(key))]
    if not request.period:
        raise Invalid("period_required", "period: name the period (or options survey)",
                      field="period")
    surveys = await services.surveys_for_period(request.period)
    if not surveys:
        raise NotFound("no_survey", f"period: no survey in period '{request.period}'",
                       field="period")
    return surveys


def _m(lang: str, key: str) -> str:
    return t(f"satisfaction.{key}", lang)


async def build_results(request: ExportRequest) -> bytes:
    lang = request.lang
    book = WorkbookBuilder()
    cols = [Column("unit_code", _m(lang, "col.unit_code")),
            Column("unit_name", _m(lang, "col.unit")),
            Column("level_name", _m(lang, "col.level")),
            Column("responses", _m(lang, "col.responses"), "int"),
            Column("valid", _m(lang, "col.valid"), "int"),
            Column("index", _m(lang, "col.index"), "float", number_format=PCT),
            Column("moe", _m(lang, "col.moe"), "float", number_format=PCT),
            Column("safety", _m(lang, "col.safety"), "float", number_format=PCT),
            Column("quota", _m(lang, "col.quota"), "int"),
            Column("progress", _m(lang, "col.progress"), "float", number_format=PCT),
            Column("previous", _m(lang, "col.previous"), "float", number_format=PCT),
            Column("change", _m(lang, "col.change"), "float", number_format=PCT)]
    for survey in await _surveys(request):
        rows = await services.results_with_change(survey)
        if request.unit:
            rows = [r for r in rows if f"/{request.unit}/" in r["path"]]
        for r in rows:
            r["level_name"] = t(f"satisfaction.level.{r['level']}", lang)
        frozen = _m(lang, "frozen") if survey.frozen_at else _m(lang, "live")
        book.add_table(survey.key, survey.title, cols, rows,
                       subtitle=f"{survey.period.code} · {survey.opens}–{survey.closes} · {frozen}")
    return book.to_bytes()


async def build_answers(request: ExportRequest) -> bytes:
    lang = request.lang
    book = WorkbookBuilder(write_only=True)
    for survey in await _surveys(request):
        questions = survey.spec["questions"]
        cols = [Column("id", "ID", "int"), Column("unit_code", _m(lang, "col.unit_code")),
                Column("received_at", _m(lang, "col.received_at"), "datetime"),
                Column("elapsed_seconds", _m(lang, "col.elapsed"), "int"),
                *[Column(f"q_{q['key']}", q["text"]) for q in questions],
                Column("complaint", _m(lang, "col.complaint")),
                Column("flags_text", _m(lang, "col.flags")),
                Column("valid_text", _m(lang, "col.counted"))]
        labels = {q["key"]: _labels(q, lang) for q in questions}

        rows = await _collect(_answer_rows(survey, labels, lang))
        book.add_table(survey.key, survey.title, cols, rows, subtitle=survey.period.code)
    return book.to_bytes()


async def _collect(gen: Any) -> list[dict[str, Any]]:
    return [r async for r in gen]


async def _answer_rows(survey: Survey, labels: dict[str, dict[int, str]], lang: str):
    last = 0
    while True:
        batch = await Response.filter(survey_id=survey.id, id__gt=last).order_by("id").limit(
            5000).values("id", "unit__code", "received_at", "elapsed_seconds", "answers",
                         "complaint", "flags", "excluded")
        if not batch:
            return
        for r in batch:
            row = {"id": r["id"], "unit_code": r["unit__code"],
                   "received_at": r["received_at"], "elapsed_seconds": r["elapsed_seconds"],
                   "complaint": r["complaint"],
                   "flags_text": "、".join(t(f"satisfaction.flag.{f}", lang)
                                          for f in r["flags"].split(",") if f),
                   "valid_text": _m(lang, "no" if r["excluded"] else "yes")}
            for key, value in (r["answers"] or {}).items():
                row[f"q_{key}"] = labels.get(key, {}).get(value, value)
            yield row
        last = batch[-1]["id"]


def _labels(q: dict[str, Any], lang: str) -> dict[int, str]:
    from plugins.satisfaction.config import CHOICES

    if q["kind"] not in CHOICES:
        return {}
    given = q.get("labels") or []
    return {v: (given[i] if given else t(f"satisfaction.choice.{q['kind']}.{v}", lang))
            for i, v in enumerate(CHOICES[q["kind"]])}


def exporters() -> list[Exporter]:
    return [Exporter("satisfaction-results", "群众满意度测评结果", build_results,
                     roles=ADMIN_LEADER),
            Exporter("satisfaction-answers", "群众满意度测评答卷（含标记）", build_answers,
                     roles=ADMIN_ONLY)]
