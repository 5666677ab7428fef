"""The ranking workbook as an exporter: `kaohe export ranking --period P --group G`, the
archive and the report subscriptions all build it through here."""

from __future__ import annotations

from core.contrib import Exporter, ExportRequest
from plugins.ranking import workbook


async def build_ranking(request: ExportRequest) -> bytes:
    """The published ranking of `request.group` for `request.period`; `request.unit` narrows
    the rows to a unit's subtree (a district leader's detail); options {"draft": true}
    exports an unpublished draft, marked as such."""
    book, _ = await workbook.load(request.period, request.group, request.unit,
                                  draft=bool(request.options.get("draft")))
    return workbook.write(book)


async def group_label(key: str) -> str:
    """A peer group's name in the applied scheme (file names and archive titles)."""
    from plugins.ranking.services import current_scheme

    _, scheme = await current_scheme(required=False)
    group = scheme.group(key) if scheme else None
    return group.name if group else key


def exporters() -> list[Exporter]:
    from plugins.ranking import annual_workbook

    return [Exporter("ranking", "工作绩效排位", build_ranking, roles=("admin", "leader"),
                     needs_period=True, group_label=group_label),
            # The year's workbooks: --period is the year's period code, --group the peer group.
            Exporter("ranking-annual", "年度考核结果汇总表", annual_workbook.build_summary,
                     roles=("admin", "leader"), needs_period=True, group_label=group_label),
            Exporter("ranking-annual-grades", "年度考核等次名单", annual_workbook.build_grades,
                     roles=("admin", "leader"), needs_period=True, group_label=group_label),
            Exporter("ranking-notice", "工作绩效排位通报", build_notice,
                     roles=("admin", "leader"), kind="document", group_label=group_label)]


async def build_notice(request: ExportRequest) -> bytes:
    """通报: the published ranking's results, its top and bottom units and the measures."""
    from plugins.ranking.notice import notice

    book, ranking = await workbook.load(request.period, request.group, request.unit)
    return await notice(book, ranking, request.options)
