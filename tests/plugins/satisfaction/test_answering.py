"""A respondent answers over HTTP; every bad input gets a clear page and nothing twice."""

from __future__ import annotations

import re

from core.orgs import OrgUnit
from plugins.satisfaction import services
from plugins.satisfaction.models import Response, Survey
from tests.plugins.satisfaction.helpers import aged_token, token_of

FORM = "/satisfaction/s/s2014/520102001"
GOOD = {"q_overall": "1", "q_safety": "2", "q_medical": "4", "q_comment": ""}


async def answer(client, data=None, token=None, path=FORM):
    token = await aged_token("s2014", "520102001") if token is None else token
    return await client.post(path, data={"token": token, **(GOOD if data is None else data)})


async def test_from_the_short_link_to_a_stored_answer(app_client):
    survey = await Survey.get(key="s2014")
    unit = await OrgUnit.get(code="520102001")
    r = await app_client.get(f"/satisfaction/k/{services.short_code(survey, unit)}")
    assert r.status_code == 303 and r.headers["location"] == FORM
    r = await app_client.get(FORM)
    assert r.status_code == 200
    assert "花果园社区" in r.text and "满意" in r.text and "基本安全" in r.text
    assert "<script" not in r.text  # works without JavaScript
    assert "kaohe_device" in app_client.cookies
    token_of(r.text)
    r = await answer(app_client)
    assert r.status_code == 200 and "提交成功" in r.text
    row = await Response.get(survey=survey)
    assert (row.flags, row.excluded, row.index_value, row.safety_value) == ("", False, 1, 2)
    assert row.answers == {"overall": 1, "safety": 2, "medical": 4}
    # No personal data: the address only as a salted hash.
    assert re.fullmatch(r"[0-9a-f]{64}", row.address_hash)
    assert "127.0.0.1" not in str(await Response.filter(id=row.id).values())


async def test_a_second_answer_from_the_same_device_is_refused(app_client):
    await app_client.get(FORM)
    assert (await answer(app_client)).status_code == 200
    r = await app_client.get(FORM)
    assert r.status_code == 409 and "每台设备只能作答一次" in r.text
    r = await answer(app_client)
    assert r.status_code == 409 and "每台设备只能作答一次" in r.text
    assert await Response.all().count() == 1


async def test_a_replayed_form_is_refused(app_client):
    token = await aged_token("s2014", "520102001")
    assert (await answer(app_client, token=token)).status_code == 200
    app_client.cookies.clear()  # even from another device
    await app_client.get(FORM)
    r = await answer(app_client, token=token)
    assert r.status_code == 409 and "这份表单已经提交过" in r.text
    assert await Response.all().count() == 1


async def test_a_missing_answer_shows_the_form_again_with_the_question(app_client):
    r = await answer(app_client, {"q_safety": "1"})
    assert r.status_code == 422
    assert "请回答：您对社区工作满意吗？" in r.text
    assert 'name="q_safety" value="1" checked' in r.text  # the given answers are kept
    r = await answer(app_client, {"q_overall": "9", "q_safety": "1"})
    assert r.status_code == 422 and "“您对社区工作满意吗？”的答案无效" in r.text
    r = await answer(app_client, {**GOOD, "q_comment": "长" * 2001})
    assert r.status_code == 422 and "不能超过2000字" in r.text
    assert await Response.all().count() == 0


async def test_a_closed_survey_and_an_uncovered_unit_are_refused(app_client):
    closed = "/satisfaction/s/s2013/520102001"
    r = await app_client.get(closed)
    assert r.status_code == 410 and "这项测评已于2013-12-15结束" in r.text
    r = await answer(app_client, path=closed, token=await aged_token("s2013", "520102001"))
    assert r.status_code == 410 and "已于2013-12-15结束" in r.text
    r = await app_client.get("/satisfaction/s/s2014/520102")  # a district, not a community
    assert r.status_code == 404 and "这项测评不包括该单位" in r.text
    r = await answer(app_client, path="/satisfaction/s/s2014/520102")
    assert r.status_code == 404
    r = await app_client.get("/satisfaction/s/nope/520102001")
    assert r.status_code == 404 and "没有这项测评" in r.text
    r = await app_client.get("/satisfaction/k/zz-zz")
    assert r.status_code == 404 and "链接无效" in r.text
    # A token for one unit does not answer for another.
    r = await answer(app_client, path="/satisfaction/s/s2014/520103001")
    assert r.status_code == 400 and "表单无效" in r.text
    assert await Response.all().count() == 0


async def test_forged_and_expired_forms_are_refused(app_client):
    token = await aged_token("s2014", "520102001")
    body, mac = token.split(".")
    r = await answer(app_client, token=body[:-2] + "xx." + mac)
    assert r.status_code == 400 and "表单无效" in r.text
    r = await answer(app_client, token="")
    assert r.status_code == 400
    r = await answer(app_client, token=await aged_token("s2014", "520102001", 7 * 3600))
    assert r.status_code == 400 and "表单已过期" in r.text
    assert await Response.all().count() == 0


async def test_answering_too_fast_is_kept_flagged_and_excluded(app_client):
    r = await app_client.get(FORM)
    r = await answer(app_client, token=token_of(r.text))  # submitted at once
    assert r.status_code == 200 and "提交成功" in r.text
    row = await Response.get()
    assert (row.flags, row.excluded) == ("too_fast", True)
    results = await services.compute(await Survey.get(key="s2014"))
    assert (results["520102001"]["responses"], results["520102001"]["valid"]) == (1, 0)


async def test_without_a_device_cookie_the_answer_is_flagged(app_client):
    r = await answer(app_client)  # no GET before: no cookie
    assert r.status_code == 200
    row = await Response.get()
    assert row.flags == "no_device" and not row.excluded and row.device_hash is None
    assert "kaohe_device" in r.cookies


async def test_the_api_answers_with_4xx_codes(app_client):
    base = "/api/satisfaction/forms/s2014/520102001"
    form = (await app_client.get(base)).json()
    assert [q["key"] for q in form["questions"]] == ["overall", "safety", "medical", "comment"]
    token = await aged_token("s2014", "520102001")
    r = await app_client.post(base, json={"token": token, "q_safety": 1})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "q_overall"
    assert "请回答" in r.json()["error"]["message"]
    r = await app_client.post(base, json={"token": token, "q_overall": 2, "q_safety": 1})
    assert r.status_code == 201 and r.json()["counted"]
    r = await app_client.post(base, json={"token": token, "q_overall": 2, "q_safety": 1})
    assert r.status_code == 409 and r.json()["error"]["code"] in ("replayed_form",
                                                                  "already_answered")
    r = await app_client.post("/api/satisfaction/forms/s2013/520102001",
                              json={"token": token, "q_overall": 2, "q_safety": 1})
    assert r.status_code == 410 and r.json()["error"]["code"] == "survey_closed"
    assert await Response.all().count() == 1


async def test_english_on_request(app_client):
    app_client.cookies.set("lang", "en")
    r = await app_client.get("/satisfaction/s/s2013/520102001")
    assert r.status_code == 410 and "This survey closed on 2013-12-15" in r.text


async def test_hostile_input_gets_a_4xx_never_a_crash(app_client):
    base = "/api/satisfaction/forms/s2014/520102001"
    token = await aged_token("s2014", "520102001")
    for body in ({"token": "令牌.签名", "q_overall": 1, "q_safety": 1},
                 {"token": token + "é", "q_overall": 1, "q_safety": 1},
                 {"token": ["x"], "q_overall": 1, "q_safety": 1},
                 {"token": token, "q_overall": {"$gt": 1}, "q_safety": [1, 2]},
                 {"token": token, "q_overall": True, "q_safety": 1},
                 {"token": token, "q_overall": 1, "q_safety": 1, "q_comment": {"a": 1}}):
        r = await app_client.post(base, json=body)
        assert 400 <= r.status_code < 500, (body, r.status_code, r.text[:200])
    app_client.cookies.set("kaohe_device", "0" * 32 + ".forged")
    r = await app_client.get(FORM)
    assert r.status_code == 200
    r = await app_client.post(FORM, content=b"token=%FF%FE&q_overall=1",
                              headers={"content-type": "application/x-www-form-urlencoded"})
    assert 400 <= r.status_code < 500
    assert await Response.all().count() == 0
