"""In Debian's Chromium at phone size: respondents answer from the short link the QR code
carries, once with JavaScript and once without; the answers and the complaint arrive."""

from __future__ import annotations

import sys

from tests.browser import ARGS, CHROMIUM, MARKS, serving
from tests.conftest import with_db
from tests.plugins.satisfaction.helpers import DEFINITION, OPEN_DAY

pytestmark = MARKS
PHONE = {"width": 390, "height": 844}


def test_a_respondent_answers_on_a_phone_from_the_qr_link(settings, host, tmp_path):
    from playwright.sync_api import sync_playwright

    from core import assessments
    from core.orgs import OrgUnit
    from plugins.satisfaction import services
    from plugins.satisfaction.models import Survey

    async def world():
        await assessments.apply(DEFINITION.replace("min_seconds = 20", "min_seconds = 0"), host)
        survey = await Survey.get(key="s2014")
        return [services.short_code(survey, await OrgUnit.get(code=c))
                for c in ("520102001", "520103001")]

    codes = with_db(settings, world)
    env = {"KAOHE_APP__TODAY": OPEN_DAY}  # the served platform stands inside the survey
    with serving(sys.executable, settings.source, env=env) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            for code, js in ((codes[0], True), (codes[1], False)):
                context = browser.new_context(viewport=PHONE, device_scale_factor=2,
                                              is_mobile=True, java_script_enabled=js)
                page = context.new_page()
                page.goto(f"{base}/satisfaction/k/{code}")
                page.wait_for_selector("#survey-form")
                assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
                page.screenshot(path=str(tmp_path / f"form-{code}.png"), full_page=True)
                page.click("#submit")  # nothing answered: the errors name the questions
                assert "请回答：您对社区工作满意吗？" in page.inner_text("#errors")
                page.click("#q-overall label.choice:has-text('基本满意')")
                page.click("#q-safety label.choice:has-text('安全') >> nth=0")
                page.click("#q-medical label.choice:has-text('4')")
                page.fill("textarea[name='q_comment']", "楼下餐馆油烟直排。")
                page.check("input[name='c_comment']")
                page.click("#submit")
                page.wait_for_selector("#thanks")
                assert "您的投诉已登记" in page.inner_text("main")
                page.goto(f"{base}/satisfaction/k/{code}")  # a second time: refused
                assert "每台设备只能作答一次" in page.inner_text("#message")
                context.close()
        finally:
            browser.close()

    async def check():
        from plugins.rectification.models import Task
        from plugins.satisfaction.models import Response

        rows = await Response.all().order_by("id").prefetch_related("unit")
        tasks = await Task.filter(source="survey").prefetch_related("unit")
        return ([(r.unit.code, r.index_value, r.safety_value, r.answers.get("medical"),
                  r.complaint) for r in rows], sorted(t.unit.code for t in tasks))

    rows, tasks = with_db(settings, check)
    assert rows == [("520102001", 2, 1, 4, "楼下餐馆油烟直排。"),
                    ("520103001", 2, 1, 4, "楼下餐馆油烟直排。")]
    assert tasks == ["520102001", "520103001"]
