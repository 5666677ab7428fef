"""The escalation ladder page: the rungs of the applied definition in words, how the ladder
is changed, the definition's own [accountability] text, and the file to download."""

from __future__ import annotations

import tomllib

from core import assessments
from core.demo import DEFINITION
from plugins.accountability.ladder_view import section_text
from tests.conftest import login, make_user


async def test_ladder_page_shows_rungs_and_the_definition_text(client):
    text = DEFINITION.read_text(encoding="utf-8")
    await assessments.apply(text, client.app.state.host, applied_by="张三")
    await make_user("adm", "admin")
    await login(client, "adm")
    page = await client.get("/accountability/ladder")
    assert page.status_code == 200
    body = page.text
    assert "整改逾期满 15 个工作日" in body and "约谈" in body and "通报批评" in body
    assert "连续 2 次排位进入本组末位区间" in body and "单位主要负责人" in body
    assert "365 天内再次被追究" in body and "10 个工作日内申诉" in body
    assert "第 1 版" in body and "由 张三 应用" in body
    assert 'href="/assessments/guiyang-2014/source"' in body
    assert "[[accountability.rules]]" in body and "[rectification]" not in body
    assert ">overdue<" not in body and ">interview<" not in body  # names, not codes
    r = await client.get("/assessments/guiyang-2014/source")
    assert r.status_code == 200 and r.content.decode("utf-8") == text
    assert "guiyang-2014-v1.toml" in r.headers["content-disposition"]
    assert (await client.get("/assessments/guiyang-2014/source?version=9")).status_code == 404
    assert (await client.get("/assessments/nope/source")).status_code == 404
    assert 'id="ladder-link"' in (await client.get("/accountability/queue")).text


def test_section_text_takes_the_section_and_its_comments_only():
    text = DEFINITION.read_text(encoding="utf-8")
    section = section_text(text)
    assert section.startswith("# 责任追究制")
    parsed = tomllib.loads(section)
    assert parsed["accountability"] == tomllib.loads(text)["accountability"]
    assert "问题限期整改制" not in section  # the next section's comment stays with it
    assert section_text('[a]\nx = 1\n["accountability"]\ny = 2\n[b]\n') == '["accountability"]\ny = 2\n'
    assert section_text("[a]\nx = 1\n") == ""


async def test_empty_ladder_without_a_definition(client):
    await make_user("adm", "admin")
    await login(client, "adm")
    page = await client.get("/accountability/ladder")
    assert page.status_code == 200 and 'id="ladder-empty"' in page.text
