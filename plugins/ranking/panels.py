"""The dashboard panel: the latest published ranking as a bar chart."""

from __future__ import annotations

from typing import Any

from core.contrib import Panel
from core.roles import ADMIN_LEADER_OFFICER
from plugins.ranking import models


async def panels(user: Any) -> list[Panel]:
    if user is None or user.role not in ADMIN_LEADER_OFFICER:
        return []
    ranking = await models.Ranking.filter(status__in=("objection", "final")) \
        .order_by("-published_at", "-id").first()
    ctx: dict[str, Any] = {"ranking": ranking, "labels": [], "values": [], "bottom": []}
    if ranking is not None:
        from plugins.ranking.services import scheme_of

        group = scheme_of(await models.Scheme.get(id=ranking.scheme_id)).group(ranking.group)
        ctx["group_name"] = group.name if group else ranking.group
        rows = await models.RankingRow.filter(ranking=ranking, rank__isnull=False) \
            .order_by("position").values("unit_name", "total", "flag", "rank")
        # All of them: the chart keeps the top and the bottom of a long list (core _chart.html).
        ctx["labels"] = [r["unit_name"] for r in rows]
        ctx["values"] = [float(r["total"]) for r in rows]
        ctx["bottom"] = [r for r in rows if r["flag"] == "bottom"]
        ctx["count"] = len(rows)
    if user.role == "admin":
        ctx["drafts"] = await models.Ranking.filter(status="draft").count()
    return [Panel("ranking/panel.html", ctx, order=20)]
