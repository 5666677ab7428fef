"""The three workbooks, read back with python-calamine and checked cell by cell."""

from core.contrib import ExportRequest
from core.exports import build_export
from plugins.coverage.reporting import submit_one
from tests.plugins.coverage.helpers import grid
from tests.plugins.coverage.world import FIGURES_Q3, build_world

FIELDS = ("orgs", "party_orgs", "own", "joint", "org_rate", "instructor_only", "work_rate",
          "instructors", "should_establish", "demo_sites")
KINDS = ("enterprise", "social", "total")


def _expected_cells(key_figures):
    cells = []
    for kind in KINDS:
        f = key_figures.get(kind)
        for name in FIELDS:
            value = f[name]
            cells.append(round(float(value) / 100, 6) if name.endswith("_rate") else value)
    return cells


def _cells(row):
    return [round(v, 6) if isinstance(v, float) and not v.is_integer() else
            int(v) if isinstance(v, float) else v for v in row[2:32]]


QL_TOTAL = dict(orgs=3, own=0, joint=2, org_rate="66.67", instructor_only=1, work_rate="100.00",
                instructors=1, should_establish=1, party_orgs=1, demo_sites=1)


async def test_coverage_stats_workbook_cell_by_cell(db):
    await build_world()
    data = await build_export("coverage-stats", ExportRequest(period="2014Q3", unit="520100"))
    rows = grid(data)
    assert rows[0][0] == "覆盖情况统计表"
    assert "2014Q3" in rows[1][0] and "贵阳市" in rows[1][0]
    assert rows[2][:5] == ["单位", "代码", "非公企业·组织数", "非公企业·党组织数", "非公企业·单独组建"]
    assert rows[2][6] == "非公企业·组织覆盖率" and rows[2][12] == "社会组织·组织数"
    assert rows[2][30] == "合计·应建未建" and rows[2][31] == "合计·示范点"
    assert len([h for h in rows[2] if h]) == 32
    body = rows[3:]
    assert [r[0] for r in body] == ["南明区", "　花果园社区", "云岩区", "　黔灵社区", "合计（贵阳市）"]
    assert [r[1] for r in body] == ["520102", "520102001", "520103", "520103001", "520100"]
    hgy = {k: FIGURES_Q3[("520102001", k)] for k in KINDS}
    assert _cells(body[0]) == _expected_cells(hgy)  # the district holds one community
    assert _cells(body[1]) == _expected_cells(hgy)
    ql = {"enterprise": FIGURES_Q3[("520103001", "enterprise")],
          "social": FIGURES_Q3[("520103001", "social")], "total": QL_TOTAL}
    assert _cells(body[2]) == _expected_cells(ql) and _cells(body[3]) == _expected_cells(ql)
    city = {k: FIGURES_Q3[("520100", k)] for k in KINDS}
    assert _cells(body[4]) == _expected_cells(city)
    assert body[4][6] == 0.625 and body[4][26] == 0.5833  # 62.50 %, 58.33 % as fractions
    notes = grid(data, "说明")
    assert notes[0][0] == "口径" and any("联合组建" in str(r) for r in notes)


async def test_closed_period_workbook_says_frozen(db):
    await build_world()
    data = await build_export("coverage-stats", ExportRequest(period="2014Q2", unit="520102"))
    rows = grid(data)
    assert "定格" in rows[1][0]
    assert [r[0] for r in rows[3:]] == ["花果园社区", "合计（南明区）"]


async def test_should_establish_list(db):
    w = await build_world()
    data = await build_export("coverage-should-establish", ExportRequest(period="2014Q3"))
    rows = grid(data)
    assert rows[0][0] == "应建未建清单" and "共 3 个" in rows[1][0]
    assert rows[2] == ["区（市、县）", "社区", "统一社会信用代码", "名称", "类别", "正式党员", "预备党员",
                       "覆盖情况", "党建指导员"]
    o = w["orgs"]
    assert rows[3:] == [
        ["南明区", "花果园社区", o["E4"].uscc, "组织E4", "非公企业", 3.0, 0.0, "仅派指导员", "zhang"],
        ["南明区", "花果园社区", o["S3"].uscc, "组织S3", "社会组织", 4.0, 0.0, "未覆盖", ""],
        ["云岩区", "黔灵社区", o["E7"].uscc, "组织E7", "非公企业", 3.0, 0.0, "联合组建覆盖", ""],
    ]


async def test_instructor_compliance_table(db):
    w = await build_world()
    await submit_one(w["people"]["zhang"], "2014Q3", {
        "uscc": w["orgs"]["E4"].uscc, "party_members": 3, "formal_members": 3,
        "probationary_members": 0})
    data = await build_export("coverage-instructor-compliance", ExportRequest(period="2014Q3"))
    rows = grid(data)
    assert rows[0][0] == "指导员报送情况表"
    assert rows[2] == ["账号", "姓名", "负责组织", "已报送", "报送率", "最近报送"]
    body = rows[3:]
    assert [r[:5] for r in body] == [
        ["li", "li", 2.0, 0.0, 0.0],
        ["wang", "wang", 0.0, 0.0, ""],
        ["zhang", "zhang", 2.0, 1.0, 0.5],
        ["合计", "3 人", 4.0, 1.0, 0.25],
    ]
    assert body[2][5] != "" and body[0][5] == ""  # zhang's last report time; li has none
