"""The 通报 of a published ranking: results, the units in front and at the bottom, and the
measures that follow, as an official document (core.documents)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core import clock
from core.documents import OfficialDocument, Table, office, render
from plugins.ranking import models
from plugins.ranking.workbook import RankingBook


def _names(rows: list[dict[str, Any]]) -> str:
    return "、".join(f"{r['unit_name']}（第{r['rank']}名，{_score(r['total'])}分）" for r in rows)


def _score(total: Any) -> str:
    return format(Decimal(str(total)).quantize(Decimal("0.01")), "f") if total is not None else "-"


def measures(book: RankingBook, ranking: models.Ranking) -> list[str]:
    s = book.scheme
    out = [f"对排名前{s.top_n}位的单位予以通报表扬。",
           f"排名末{s.bottom_n}位的单位按照责任追究制的规定启动问责程序，由其主要负责人向"
           "市委、市政府作出书面说明，并在15个工作日内报送整改方案。"]
    if ranking.objection_until:
        day = ranking.objection_until
        out.append(f"各单位对排位结果有异议的，请于{day.year}年{day.month}月{day.day}日前"
                   "书面提出，逾期视为无异议。")
    return out


async def notice(book: RankingBook, ranking: models.Ranking, options: dict[str, Any]) -> bytes:
    office_ = await office()
    ranked = [r for r in book.rows if r["rank"] is not None]
    top = [r for r in ranked if r["flag"] == "top"]
    bottom = [r for r in ranked if r["flag"] == "bottom"]
    group = book.group_name
    published = ranking.published_at or clock.now()
    day = published.astimezone(clock.tz()).date()
    body: list[Any] = [
        f"按照工作绩效排位制的要求，根据{book.period}考核期各项指标数据，对{group}"
        f"{len(ranked)}个单位进行了工作绩效排位。现将排位情况通报如下。",
        "# 一、排位结果",
        Table(["名次", "单位", "总分"], [[r["rank"], r["unit_name"], _score(r["total"])]
                                       for r in ranked], [30, 80, 40]),
        "# 二、排名靠前的单位",
        f"{_names(top)}排名靠前，工作成效明显。" if top else "本期无。",
        "# 三、排名靠后的单位",
        f"{_names(bottom)}排名靠后，须认真查找原因，限期整改。" if bottom else "本期无。",
        "# 四、有关措施",
        *[f"（{'一二三四五六七八九'[i]}）{m}" for i, m in enumerate(
            options.get("measures") or measures(book, ranking))],
        "希望各单位以排位结果为镜，对标先进、查找差距，推动各项工作落到实处。",
    ]
    doc = OfficialDocument(
        title=f"关于{book.period}考核期{group}工作绩效排位情况的通报", body=body, date=day,
        seq=int(options.get("seq") or ranking.id),
        attachments=[f"{book.period}考核期{group}工作绩效排位表"], kind_note="通报")
    return render(doc, office_)
