"""The unit picker (core.unit_picker, GET /units/find) and the forms that take a unit through it:
search by name and code, narrowing by parent, the user's reach, the htmx fragment and the page
without JavaScript, and each form's refusal of an unknown unit, naming the field in Chinese."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from core import unit_picker
from core.errors import Invalid
from core.orgs import OrgUnit, ensure_period, ensure_unit
from tests.conftest import login, make_user, seed_units

GRIDS = 25  # more than the picker's limit


@pytest.fixture(autouse=True)
def pinned_day(request):
    from core import clock

    if "booted" in request.fixturenames:
        request.getfixturevalue("booted")
    clock.travel(dt.date(2026, 11, 20))
    yield
    clock.travel(None)


async def _tree():
    """seed_units plus grids under 花果园社区 and a second community named like one in 云岩区."""
    await seed_units()
    await ensure_period("2026")
    hgy = await OrgUnit.get(code="520102001")
    for i in range(1, GRIDS + 1):
        await ensure_unit(f"520102001{i:03d}", f"花果园第{i}网格", "grid", hgy)
    nm = await OrgUnit.get(code="520102")
    await ensure_unit("520102002", "黔灵社区", "community", nm)  # 520103001 is 黔灵社区 too


async def test_search_by_name_and_by_code_shallow_levels_first(db):
    await _tree()
    found = await unit_picker.search("花果园")
    assert found[0].code == "520102001" and all("花果园" in u.name for u in found)
    assert len(found) == unit_picker.LIMIT  # the community and the first grids, never all 26
    found = await unit_picker.search("520103")
    assert [u.code for u in found] == ["520103", "520103001"]
    assert await unit_picker.search("no such unit") == []


async def test_narrowing_by_parent(db):
    await _tree()
    top = await unit_picker.search("")  # no text: the children of the city
    assert [u.code for u in top] == ["520102", "520103"]
    nm = await OrgUnit.get(code="520102")
    assert [u.code for u in await unit_picker.search("", parent=nm)] == ["520102001", "520102002"]
    # text inside a parent: only its subtree
    assert [u.code for u in await unit_picker.search("黔灵", parent=nm)] == ["520102002"]
    assert {u.code for u in await unit_picker.search("黔灵")} == {"520102002", "520103001"}
    # levels: only communities
    assert {u.level for u in await unit_picker.search("花果园", levels=("grid",))} == {"grid"}


async def test_reach_of_a_unit_officer(db):
    await _tree()
    officer = await make_user("nm_officer", "unit_officer", unit_code="520102")
    reach = await unit_picker.reach_for(officer)
    assert {u.code for u in await unit_picker.search("黔灵", reach=reach)} == {"520102002"}
    assert [u.code for u in await unit_picker.search("", reach=reach)] == ["520102001", "520102002"]
    with pytest.raises(Invalid) as refused:
        await unit_picker.resolve("520103001", field="unit", label="责任单位", reach=reach)
    assert refused.value.field == "unit" and "责任单位：" in refused.value.message
    assert "不在您可选择的范围内" in refused.value.message
    assert (await unit_picker.resolve("520102002", field="unit", label="x", reach=reach)).name == "黔灵社区"
    admin = await make_user("root", "admin")
    assert (await unit_picker.reach_for(admin)).path is None


async def test_resolve_code_name_bracketed_ambiguous_and_level(db):
    await _tree()
    r = unit_picker.resolve
    assert (await r("520102", field="f", label="单位")).name == "南明区"
    assert (await r("花果园社区", field="f", label="单位")).code == "520102001"
    assert (await r("花果园社区（520102001）", field="f", label="单位")).code == "520102001"
    assert await r("  ", field="f", label="单位") is None
    for text, words in (("黔灵社区", ("多个单位", "520102002", "520103001")),
                        ("999", ("单位：没有名称或代码为“999”的单位",)),
                        ("", ("请填写单位",))):
        with pytest.raises(Invalid) as refused:
            await r(text, field="f", label="单位", required=True)
        assert refused.value.field == "f" and all(w in refused.value.message for w in words)
    with pytest.raises(Invalid) as refused:
        await r("520102", field="community", label="所在社区", levels=("community",))
    assert refused.value.message.startswith("所在社区：") and "社区" in refused.value.message


# -- the route -------------------------------------------------------------------------------

async def _admin(client) -> str:
    await _tree()
    await make_user("root", "admin")
    return await login(client, "root")


async def test_fragment_for_htmx_and_page_without_javascript(client):
    await _admin(client)
    hx = {"HX-Request": "true", "HX-Target": "unit-unit-choices"}
    # htmx sends the field's own value under the field's name
    r = await client.get("/units/find", params={"field": "unit", "unit": "花果园"}, headers=hx)
    assert r.status_code == 200 and "<html" not in r.text
    picks = re.findall(r'data-unit-pick="([^"]+)"', r.text)
    assert picks[0] == "520102001" and len(picks) == unit_picker.LIMIT
    assert "只显示前 20 个" in r.text
    # narrowing: the district's communities, and the district itself can be picked
    r = await client.get("/units/find", params={"field": "unit", "parent": "520102"}, headers=hx)
    picks = re.findall(r'data-unit-pick="([^"]+)"', r.text)
    assert picks == ["520102", "520102001", "520102002"]
    assert 'hx-get="/units/find?field=unit&amp;parent=520102001' in r.text  # grids below
    # a level restriction: districts are only a way down
    r = await client.get("/units/find", params={"field": "community", "level": "community"},
                         headers=hx)
    assert re.findall(r'data-unit-pick="([^"]+)"', r.text) == []
    assert "parent=520102" in r.text
    # without JavaScript: a whole page whose picks go back to the form with the code
    r = await client.get("/units/find", params={"field": "unit", "q": "黔灵",
                                                "return": "/rectification/new?x=1"})
    assert r.status_code == 200 and "<!doctype html>" in r.text and 'id="unit-find-form"' in r.text
    links = re.findall(r'href="([^"]+)" data-unit-code', r.text)
    assert links == ["/rectification/new?x=1&amp;unit=520102002",
                     "/rectification/new?x=1&amp;unit=520103001"]
    # searching on the page of a district searches inside it
    r = await client.get("/units/find", params={"field": "unit", "parent": "520102"})
    assert '<input type="hidden" name="parent" value="520102">' in r.text
    r = await client.get("/units/find", params={"q": "黔灵", "parent": "520102"})
    assert re.findall(r'data-unit-code="([^"]+)"', r.text) == ["520102002"]
    r = await client.get("/units/find", params={"q": "黔灵", "return": "//evil.example/x"})
    assert re.findall(r'href="([^"]+)" data-unit-code', r.text)[0] == "/?unit=520102002"


async def test_fragment_keeps_a_unit_officer_inside_their_unit(client):
    await _tree()
    await make_user("nm_officer", "unit_officer", unit_code="520102")
    await login(client, "nm_officer")
    hx = {"HX-Request": "true"}
    r = await client.get("/units/find", params={"q": "黔灵"}, headers=hx)
    assert re.findall(r'data-unit-pick="([^"]+)"', r.text) == ["520102002"]
    # another district as parent is not theirs: they see their own unit's children
    r = await client.get("/units/find", params={"parent": "520103"}, headers=hx)
    assert "520103001" not in r.text and "520102001" in r.text
    # a form refuses a unit outside their reach, naming the field
    r = await client.get("/rectification/reports/rectification-ledger",
                         params={"period": "2026", "unit": "520103001"})
    assert r.status_code == 422 and "单位：单位“黔灵社区（520103001）”不在您可选择的范围内" in r.text
    r = await client.get("/rectification/reports/rectification-ledger",
                         params={"period": "2026", "unit": "520102002"})
    assert r.status_code == 200


# -- the forms that take a unit -------------------------------------------------------------

TASK = {"period": "2026", "source": "grid", "category": "general", "severity": "urgent",
        "title": "小区道路破损", "description": "路面坑洼", "responsible_person": "张三"}


async def test_register_problem_takes_a_code_or_a_name_and_names_the_field(client):
    from plugins.rectification.models import Task

    csrf = await _admin(client)
    page = await client.get("/rectification/new")
    assert page.status_code == 200 and 'data-unit-picker' in page.text
    assert page.text.count("<option") < 40  # no select of every unit
    for unit, words in (("999", "责任单位：没有名称或代码为“999”的单位"),
                        ("黔灵社区", "责任单位：名称“黔灵社区”对应多个单位")):
        r = await client.post("/rectification/new", data={**TASK, "unit": unit, "_csrf": csrf})
        assert r.status_code == 422 and words in r.text, r.text[-2000:]
        assert 'data-field="unit"' in r.text and 'aria-invalid="true"' in r.text
    assert await Task.all().count() == 0
    r = await client.post("/rectification/new", data={**TASK, "unit": "花果园社区", "_csrf": csrf})
    assert r.status_code in (302, 303), r.text[-1500:]
    task = await Task.get().select_related("unit")
    assert task.unit.code == "520102001"
    # the reports' unit field refuses an unknown unit by name too
    r = await client.get("/rectification/reports/rectification-ledger",
                         params={"period": "2026", "unit": "999"})
    assert r.status_code == 422 and "单位：没有名称或代码为“999”的单位" in r.text


async def test_accountability_record_refuses_an_unknown_unit(client):
    from plugins.accountability.models import Record

    csrf = await _admin(client)
    page = await client.get("/accountability/new")
    assert page.status_code == 200 and 'name="unit_code"' in page.text
    form = {"measure": "remind", "target": "unit", "points": "1", "reason": "未按期整改",
            "_csrf": csrf}
    r = await client.post("/accountability/new", data={**form, "unit_code": "999"})
    assert r.status_code == 422 and "单位：没有名称或代码为“999”的单位" in r.text
    assert 'data-field="unit_code"' in r.text and await Record.all().count() == 0
    r = await client.post("/accountability/new", data={**form, "unit_code": "云岩区"})
    assert r.status_code in (302, 303), r.text[-1500:]
    assert (await Record.get().select_related("unit")).unit.code == "520103"


async def test_user_create_refuses_an_unknown_unit(client):
    from core.accounts import User

    csrf = await _admin(client)
    form = {"username": "liu", "role": "unit_officer", "password": "pass-word-1", "_csrf": csrf}
    r = await client.post("/users", data={**form, "unit": "999"})
    assert r.status_code == 422 and "所属单位：没有名称或代码为“999”的单位" in r.text
    assert 'data-field="unit"' in r.text and not await User.exists(username="liu")
    r = await client.post("/users", data={**form, "unit": "南明区"})
    assert r.status_code in (302, 303)
    assert (await User.get(username="liu").select_related("unit")).unit.code == "520102"
    # back from the picker's page: the create form has the code (the list is filtered by it
    # too, the same parameter); on the whole list each row keeps its own unit
    await make_user("boss", "leader")
    r = await client.get("/users", params={"unit": "520103001"})
    assert re.search(r'<input id="unit-unit" name="unit" value="520103001"', r.text)
    r = await client.get("/users")
    assert re.search(r'<input id="unit-of-\d+" aria-label="所属单位" name="unit" value=""', r.text)
    assert re.search(r'<input id="unit-of-\d+" aria-label="所属单位" name="unit" value="520102"',
                     r.text)
