"""Scheduled checks: the monthly 应建未建 scan, reminders before a reporting period ends,
and freezing the figures of periods that have closed."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from core import i18n
from core.accounts import User
from core.calendar import WorkCalendar
from core.contrib import JobSpec
from core.notify import notify
from core.orgs import OrgUnit
from plugins.coverage import stats
from plugins.coverage.compliance import COUNTED
from plugins.coverage.config import definition, settings_of
from plugins.coverage.models import CoverageReport, InstructorAssignment, Organization
from plugins.coverage.reporting import today
from plugins.coverage.services import current_report_period, open_report_periods, root_units


async def scan_should_establish(on: dt.date | None = None) -> dict[str, Any]:
    """Tell the admins, and each community's unit officers, which organizations should set up
    a party organization. Once a month: the event key carries the month."""
    on = on or today()
    period = await current_report_period(on)
    roots = await root_units()
    if period is None or not roots:
        return {"period": None, "organizations": 0}
    found: list[dict[str, Any]] = []
    for root in roots:
        found += await stats.organizations_behind(period.code, root, None, "should_establish")
    month = on.strftime("%Y-%m")
    by_community: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in found:
        by_community[row["community_code"]].append(row)
    told = 0
    admins = await User.filter(role="admin", is_active=True)
    if found:
        for user in admins:
            lang = user.language or "zh"
            lines = "\n".join(f"{c}（{rows[0]['community_name']}）：{len(rows)}"
                              for c, rows in sorted(by_community.items()))
            told += await notify([user], i18n.t("coverage.mail.should_subject", lang,
                                                unit=roots[0].name, count=len(found),
                                                period=period.code),
                                 i18n.t("coverage.mail.should_body", lang, lines=lines),
                                 key=f"coverage.should_establish:{period.code}:{month}",
                                 link=f"/coverage/drilldown?period={period.code}"
                                      f"&unit={roots[0].code}&figure=should_establish")
    units = {u.code: u for u in await OrgUnit.filter(code__in=list(by_community))}
    for code, rows in by_community.items():
        officers = await User.filter(role="unit_officer", is_active=True, unit_id=units[code].id)
        for user in officers:
            lang = user.language or "zh"
            lines = "\n".join(f"{r['name']}（{r['uscc']}）正式党员{r['formal_members']}人"
                              for r in rows)
            told += await notify([user], i18n.t("coverage.mail.should_subject", lang,
                                                unit=units[code].name, count=len(rows),
                                                period=period.code),
                                 i18n.t("coverage.mail.should_body", lang, lines=lines),
                                 key=f"coverage.should_establish:{period.code}:{month}:{code}",
                                 link=f"/coverage/drilldown?period={period.code}&unit={code}"
                                      "&figure=should_establish")
    return {"period": period.code, "organizations": len(found),
            "communities": len(by_community), "notified": told}


async def send_reminders(on: dt.date | None = None) -> dict[str, Any]:
    """N working days or fewer before an open reporting period ends, one digest message to
    each instructor listing their assigned organizations with no report yet."""
    on = on or today()
    days = (await definition()).remind_working_days
    cal = await WorkCalendar.load()
    told, periods = 0, []
    for period in await open_report_periods():
        left = cal.working_days_between(on, period.end)
        if not 0 <= left <= days or on > period.end:
            continue
        periods.append(period.code)
        reported = set(await CoverageReport.filter(
            period_code=period.code, status__in=COUNTED).values_list("organization_id", flat=True))
        todo: dict[int, list[Organization]] = defaultdict(list)
        for a in await InstructorAssignment.filter(end_on=None, organization__closed_on=None
                                                   ).select_related("organization"):
            if a.organization_id not in reported:
                todo[a.instructor_id].append(a.organization)
        people = {u.id: u for u in await User.filter(id__in=list(todo), is_active=True)}
        for uid, orgs in todo.items():
            user = people.get(uid)
            if user is None:
                continue
            lang = user.language or "zh"
            lines = "\n".join(f"{o.name}（{o.uscc}）" for o in sorted(orgs, key=lambda o: o.uscc))
            told += await notify([user], i18n.t("coverage.mail.remind_subject", lang,
                                                period=period.code, count=len(orgs),
                                                end=period.end.isoformat()),
                                 i18n.t("coverage.mail.remind_body", lang, period=period.code,
                                        end=period.end.isoformat(), days=left, lines=lines),
                                 key=f"coverage.remind:{period.code}:{uid}",
                                 link=f"/coverage/?period={period.code}", digest=True)
    return {"periods": periods, "notified": told}


async def _scan(ctx: Any) -> dict[str, Any]:
    return await scan_should_establish()


async def _remind(ctx: Any) -> dict[str, Any]:
    return await send_reminders()


async def _freeze(ctx: Any) -> dict[str, Any]:
    return await stats.freeze_closed_periods()


def jobs(settings: Any) -> list[JobSpec]:
    own = settings_of(settings)
    return [
        JobSpec("coverage.should_establish_scan", _scan, own.scan_cron,
                "应建未建月度排查：通知管理员和所在社区联络员"),
        JobSpec("coverage.report_reminders", _remind, own.reminder_cron,
                "报送期结束前N个工作日提醒未报送的指导员（每人一条汇总）"),
        JobSpec("coverage.freeze_closed_periods", _freeze, own.freeze_cron,
                "定格已关闭考核期的覆盖数字"),
    ]
