"""The ranking workbook as an exporter: `kaohe export ranking --period P --group G`, the
archive and the report subscriptions all build it through here."""

from __future__ import annotations

from core.contrib import Exporter, ExportRequest
from core.roles import ADMIN_LEADER
from plugins.ranking import workbook


async def build_ranking(request: ExportRequest) -> bytes:
    """The published ranking of `request.group` for `request.period`; `request.unit` narrows
    the rows to a unit's subtree (a district leader's detail); options {"draft": true}
    exports an unpublished draft, marked as such."""
    book, _ = await workbook.load(request.period, request.group, request.unit,
                                  draft=bool(request.options.get("draft")))
    return workbook.write(book)


async def peer_groups() -> list[tuple[str, str]]:
    """The current definition's peer groups (key, name): the archive page offers them."""
    from plugins.ranking.services import current_scheme

    _, scheme = await current_scheme(required=False)
    return [(g.key, g.name) for g in (scheme.groups if scheme else [])]


def exporters() -> list[Exporter]:
    from plugins.ranking import annual_workbook

    return [Exporter("ranking", "工作绩效排位", build_ranking, roles=ADMIN_LEADER,
                     needs_period=True, groups=peer_groups),
            # The year's workbooks: --period is the year's period code, --group the peer group.
            Exporter("ranking-annual", "年度考核结果汇总表", annual_workbook.build_summary,
                     roles=ADMIN_LEADER, needs_period=True, groups=peer_groups),
            Exporter("ranking-annual-grades", "年度考核等次名单", annual_workbook.build_grades,
                     roles=ADMIN_LEADER, needs_period=True, groups=peer_groups),
            Exporter("ranking-notice", "工作绩效排位通报", build_notice,
                     roles=ADMIN_LEADER, kind="document", groups=peer_groups)]


async def build_notice(request: ExportRequest) -> bytes:
    """通报: the published ranking's results, its top and bottom units and the measures."""
    from plugins.ranking.notice import notice

    book, ranking = await workbook.load(request.period, request.group, request.unit)
    return await notice(book, ranking, request.options)
