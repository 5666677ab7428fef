"""The plugin's workbooks: 覆盖情况统计表, 应建未建清单, 指导员报送情况表."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core import i18n
from core.contrib import Exporter, ExportRequest
from core.orgs import OrgUnit
from core.roles import ADMIN_LEADER, ADMIN_LEADER_OFFICER
from core.xlsx import GREY, RED, Column, WorkbookBuilder, no_records, period_subtitle
from plugins.coverage import codes, compliance, stats
from plugins.coverage.models import InstructorAssignment, Organization
from plugins.coverage.services import root_units, stats_table

KIND_ORDER = ("enterprise", "social", "total")
STAT_FIELDS = (("orgs", "int"), ("party_orgs", "int"), ("own", "int"), ("joint", "int"),
               ("org_rate", "percent"), ("instructor_only", "int"), ("work_rate", "percent"),
               ("instructors", "int"), ("should_establish", "int"), ("demo_sites", "int"))
DISTRICT_FILL = "DDEBF7"


async def _unit(request: ExportRequest) -> OrgUnit:
    if request.unit:
        return await OrgUnit.get(code=request.unit)
    roots = await root_units()
    return roots[0]


def fraction(value: Decimal | None) -> float | None:
    """Rates are kept as percentages; the workbook's percent format wants a fraction."""
    return None if value is None else float(value / 100)


def stats_columns(lang: str = "zh") -> list[Column]:
    t = i18n.t
    cols = [Column("unit", t("coverage.page.unit", lang), width=22),
            Column("code", "代码" if lang == "zh" else "Code", width=12)]
    for kind in KIND_ORDER:
        for name, kind_of in STAT_FIELDS:
            cols.append(Column(f"{kind}.{name}", f"{t(f'coverage.kind.{kind}', lang)}·"
                               f"{t(f'coverage.fig.{name}', lang)}", kind=kind_of,
                               group=kind))  # printed one kind a page, unit repeated
    return cols


def stats_row(label: str, code: str, figures: stats.UnitFigures, depth: int) -> dict[str, Any]:
    row: dict[str, Any] = {"unit": label, "code": code, "depth": depth}
    for kind in KIND_ORDER:
        f = figures[kind]
        for name, kind_of in STAT_FIELDS:
            value = getattr(f, name)
            row[f"{kind}.{name}"] = fraction(value) if kind_of == "percent" else value
    return row


async def build_stats(request: ExportRequest) -> bytes:
    lang = request.lang
    root = await _unit(request)
    table = await stats_table(request.period, root)
    rows = [stats_row(("　" if item["depth"] == 2 else "") + item["unit"].name, item["unit"].code,
                      item["figures"], item["depth"]) for item in table[1:]]
    total = stats_row(f"{i18n.t('common.total', lang)}（{root.name}）", root.code,
                      table[0]["figures"], 0)
    wb = WorkbookBuilder(lang=lang)
    src = await stats.source_for(request.period)
    subtitle = period_subtitle(request.period, root.name, lang)
    if src.frozen:
        subtitle += " · " + i18n.t("coverage.page.frozen", lang, date=src.as_of.isoformat())
    ws = wb.add_table(sheet="覆盖情况" if lang == "zh" else "Coverage",
                      title="覆盖情况统计表" if lang == "zh" else "Party coverage statistics",
                      subtitle=subtitle, columns=stats_columns(lang), rows=rows, total_row=total,
                      keys=2,
                      row_fill=lambda r: DISTRICT_FILL if r["depth"] == 1 else None)
    ws.freeze_panes = "C4"
    wb.add_notes("说明" if lang == "zh" else "Notes", "口径" if lang == "zh" else "Rules", [
        ("党组织数", "期末存续、覆盖该单位该类组织至少一个的党组织（单独组建和联合组建），"
                 "联合党组织只计一次"),
        ("组织覆盖率", "（单独组建 + 联合组建覆盖）÷ 组织数"),
        ("工作覆盖率", "（单独组建 + 联合组建覆盖 + 仅派指导员）÷ 组织数"),
        ("应建未建", "正式党员3人以上且没有单独组建党组织"),
        ("指导员", "在该单位组织中任职的不重复指导员人数"),
        ("示范点", "期末在册且标为党建工作示范点的组织数"),
        ("取数时点", f"考核期末 {src.as_of.isoformat()}" + ("（已定格）" if src.frozen else "")),
        ("舍入", "百分比四舍五入保留两位小数"),
    ])
    return wb.to_bytes()


async def should_establish_rows(period: str, unit: OrgUnit) -> list[dict[str, Any]]:
    orgs = await stats.organizations_behind(period, unit, None, "should_establish")
    ids = [o["id"] for o in orgs]
    details = {o.id: o for o in await Organization.filter(id__in=ids).select_related(
        "community__parent")} if ids else {}
    people: dict[int, list[str]] = {}
    for oid, name, username in await InstructorAssignment.filter(
            organization_id__in=ids, end_on=None).values_list(
            "organization_id", "instructor__display_name", "instructor__username"):
        people.setdefault(oid, []).append(name or username)
    rows = []
    for o in orgs:
        org = details[o["id"]]
        district = org.community.parent.name if org.community.parent else ""
        cover = ("联合组建覆盖" if o["joint"] else "仅派指导员" if o["instr"] else "未覆盖")
        rows.append({"district": district, "community": o["community_name"], "uscc": o["uscc"],
                     "name": o["name"], "kind": codes.KIND_LABELS[o["kind"]],
                     "formal": o["formal_members"], "probationary": org.probationary_members,
                     "cover": cover, "instructors": "、".join(sorted(people.get(o["id"], [])))})
    return rows


async def build_should_establish(request: ExportRequest) -> bytes:
    root = await _unit(request)
    rows = await should_establish_rows(request.period, root)
    cols = [Column("district", "区（市、县）"), Column("community", "社区"),
            Column("uscc", "统一社会信用代码", width=22), Column("name", "名称", width=30),
            Column("kind", "类别"), Column("formal", "正式党员", kind="int"),
            Column("probationary", "预备党员", kind="int"), Column("cover", "覆盖情况"),
            Column("instructors", "党建指导员", width=20)]
    wb = WorkbookBuilder(lang=request.lang)
    wb.add_table(sheet="应建未建", title="应建未建清单",
                 subtitle=period_subtitle(request.period, root.name, request.lang)
                 + f" · 共 {len(rows)} 个", columns=cols, rows=rows, keys=4,
                 empty_text=no_records(request.lang),
                 row_fill=lambda r: RED if r["cover"] == "未覆盖" else None)
    return wb.to_bytes()


async def build_compliance(request: ExportRequest) -> bytes:
    rows = await compliance.by_instructor(request.period)
    data = [{"username": r["username"], "name": r["display_name"], "assigned": r["assigned"],
             "reported": r["reported"], "rate": fraction(r["rate"]),
             "last": r["last_report_at"]} for r in rows]
    assigned = sum(r["assigned"] for r in rows)
    reported = sum(r["reported"] for r in rows)
    total = {"username": "合计", "name": f"{len(rows)} 人", "assigned": assigned,
             "reported": reported, "rate": fraction(stats.rate(reported, assigned)), "last": None}
    cols = [Column("username", "账号"), Column("name", "姓名"),
            Column("assigned", "负责组织", kind="int"), Column("reported", "已报送", kind="int"),
            Column("rate", "报送率", kind="percent"), Column("last", "最近报送", kind="datetime")]
    wb = WorkbookBuilder(lang=request.lang)
    # Silent instructors (organizations assigned, nothing reported) stand out in red.
    wb.add_table(sheet="报送情况", title="指导员报送情况表",
                 subtitle=period_subtitle(request.period, None, request.lang), columns=cols,
                 rows=data, total_row=total, keys=2, empty_text=no_records(request.lang),
                 row_fill=lambda r: RED if r["assigned"] and not r["reported"]
                 else GREY if not r["assigned"] else None)
    return wb.to_bytes()


def exporters() -> list[Exporter]:
    return [
        Exporter("coverage-stats", "覆盖情况统计表", build_stats,
                 roles=ADMIN_LEADER_OFFICER),
        Exporter("coverage-should-establish", "应建未建清单", build_should_establish,
                 roles=ADMIN_LEADER_OFFICER),
        Exporter("coverage-instructor-compliance", "指导员报送情况表", build_compliance,
                 roles=ADMIN_LEADER),
    ]
