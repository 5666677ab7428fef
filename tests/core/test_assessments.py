from pathlib import Path

import pytest

from core import assessments
from core.orgs import OrgUnit, Period

ROOT = Path(__file__).resolve().parents[2]
GUIYANG = (ROOT / "assessments" / "guiyang-2014.toml").read_text(encoding="utf-8")


async def test_guiyang_definition_applies_idempotently(db, host):
    row, changed = await assessments.apply(GUIYANG, host, applied_by="t")
    assert changed and row.version == 1
    assert await OrgUnit.filter(level="district").count() == 10
    codes = set(await OrgUnit.filter(level="district").values_list("code", flat=True))
    assert {"520102", "520103", "520111", "520112", "520113", "520115",
            "520181", "520123", "520122", "520121"} == codes
    assert (await Period.get(code="2013")).status == "closed"
    units_before = await OrgUnit.all().count()
    row2, changed2 = await assessments.apply(GUIYANG, host, applied_by="t")
    assert not changed2 and row2.id == row.id
    assert await OrgUnit.all().count() == units_before
    assert await assessments.AssessmentDefinition.all().count() == 1


async def test_changed_definition_is_new_version_and_old_stays_readable(db, host):
    await assessments.apply(GUIYANG, host)
    changed_text = GUIYANG.replace('title = "贵阳市2014年社会建设综合目标考核"',
                                   'title = "贵阳市2014年社会建设综合目标考核（修订）"')
    row, changed = await assessments.apply(changed_text, host)
    assert changed and row.version == 2
    old = await assessments.AssessmentDefinition.get(slug="guiyang-2014", version=1)
    assert not old.is_current and old.source == GUIYANG
    assert "（修订）" in assessments.diff(old.source, row.source)


@pytest.mark.parametrize("edit, expected", [
    (lambda t: t.replace('level = "city"', 'level = "town"'), "units[0].level: 'town' is not one of"),
    (lambda t: t.replace('parent = "520100"', 'parent = "999999"', 1), "units[1].parent: '999999' is not defined"),
    (lambda t: t.replace('code = "2014Q4"', 'code = "2014Q5"'), "periods[7].code: period code '2014Q5'"),
    (lambda t: t.replace("year = 2014", 'year = "2014"'), "assessment.year: Expected `int`, got `str`"),
    (lambda t: t + "\n[nosuchplugin]\nx = 1\n", "nosuchplugin: unknown section"),
    (lambda t: t.replace("[assessment]", "[assessment\n"), "not valid TOML"),
])
async def test_broken_definitions_name_the_key_path_and_change_nothing(db, host, edit, expected):
    with pytest.raises(assessments.DefinitionError) as err:
        await assessments.apply(edit(GUIYANG), host)
    assert any(expected in e for e in err.value.errors), err.value.errors
    assert await OrgUnit.all().count() == 0
    assert await assessments.AssessmentDefinition.all().count() == 0


async def test_admin_uploads_definition_in_page(client):
    from tests.conftest import login, make_user

    await make_user("adm", "admin")
    csrf = await login(client, "adm")
    files = {"file": ("g.toml", GUIYANG.encode(), "application/toml")}
    r = await client.post("/assessments", files=files, data={"_csrf": csrf})
    assert r.status_code == 200 and "+slug = " in r.text  # the diff against nothing
    assert "应用后将发生的变化" in r.text and "新增：工作绩效排位" in r.text
    r = await client.post("/assessments", data={"_csrf": csrf, "apply": "1", "text": GUIYANG},
                          files={"file": ("", b"", "application/octet-stream")})
    assert r.status_code == 200
    # Applied: a summary of what changed, not the whole file as a diff.
    assert "本次应用的变化" in r.text and "新增：责任追究" in r.text and "+slug = " not in r.text
    assert await assessments.AssessmentDefinition.all().count() == 1
    bad = GUIYANG.replace('level = "city"', 'level = "town"')
    r = await client.post("/assessments", files={"file": ("b.toml", bad.encode(), "application/toml")},
                          data={"_csrf": csrf})
    assert r.status_code == 422 and "units[0].level" in r.text
    assert "“town”不是可选值" in r.text  # the refusal in the reader's words, the place as in the file
    heavy = GUIYANG.replace('name = "群众满意度"\nweight = 20', 'name = "群众满意度"\nweight = 25')
    assert heavy != GUIYANG
    r = await client.post("/assessments", files={"file": ("h.toml", heavy.encode(), "application/toml")},
                          data={"_csrf": csrf})
    assert r.status_code == 422 and "各方面权重合计为 105，应为 100" in r.text
    assert "add up to" not in r.text


# Refusals of the less common kinds, from the core and each plugin's validator: the zh page
# tells them in Chinese (no English sentence left) and the en page in English.
REFUSALS = [
    (lambda t: t.replace('parent = "520100"', 'parent = "520102"', 1),
     "units[1].parent", "上级单位“520102”应在本单位之前列出", "must be listed above this unit"),
    (lambda t: t.replace("year = 2014", 'year = "2014"', 1),
     "assessment.year", "应为整数，实际为文本", "expected a whole number, got text"),
    (lambda t: t.replace("appeal_window_days = 10", "appeal_window_days = 0"),
     "accountability.appeal_window_days", "至少为 1（单位须有申诉的时间）", "must be at least 1"),
    (lambda t: t.replace("overdue_thresholds = [1, 15, 30]", "overdue_thresholds = [15, 1, 30]"),
     "rectification.overdue_thresholds", "应为递增且不重复的值", "expected increasing values"),
    (lambda t: t.replace('number_pattern = "{code}〔{year}〕{seq}号"', 'number_pattern = "{code}"'),
     "documents.number_pattern", "必须包含 {year} 和 {seq}", "must contain {year} and {seq}"),
    (lambda t: t.replace("quota = 60", "quota = -3", 1),
     ".quota", "-3 是负数", "-3 is negative"),
    (lambda t: t.replace("top_n = 3", "top_n = -1", 1),
     "ranking.top_n", "应为不小于 0 的整数，实际为 -1", "expected a whole number ≥ 0, got -1"),
]


@pytest.mark.parametrize("edit, where, zh, en", REFUSALS)
async def test_less_common_refusals_read_in_the_readers_language(client, edit, where, zh, en):
    import html
    import re

    from tests.conftest import login, make_user
    from tests.core.test_page_words import ENGLISH

    await make_user("adm", "admin")
    csrf = await login(client, "adm")
    bad = edit(GUIYANG)
    assert bad != GUIYANG
    for lang, expected in (("zh", zh), ("en", en)):
        client.cookies.set("lang", lang)
        r = await client.post("/assessments", data={"_csrf": csrf},
                              files={"file": ("b.toml", bad.encode(), "application/toml")})
        assert r.status_code == 422, r.text
        text = html.unescape(r.text)
        refusals = [re.sub(r"<code>.*?</code>|<[^>]+>", " ", li)
                    for li in re.findall(r'<li class="error">(.*?)</li>', text, re.S)]
        assert where in text and any(expected in x for x in refusals), refusals
        if lang == "zh":
            assert not ENGLISH.findall(" ".join(refusals)), refusals
