"""In Debian's Chromium: registering a problem with the unit picker, with JavaScript (type part
of a name, pick a suggestion) and without it (type the code; or browse the picker's page and
come back with the code filled in)."""

from __future__ import annotations

import re
import sys

from tests.browser import ARGS, CHROMIUM, MARKS, serving
from tests.conftest import make_user, seed_units, with_db

pytestmark = MARKS
PASSWORD = "browser-pass-1"


def _login(page, base):
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "b_admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_register_a_problem_with_and_without_javascript(settings):
    from playwright.sync_api import sync_playwright

    from core.orgs import ensure_period

    async def setup():
        await seed_units()
        await ensure_period("2026")
        await make_user("b_admin", "admin", password=PASSWORD)

    async def tasks():
        from plugins.rectification.models import Task

        return [(t.title, t.unit.code) for t in
                await Task.all().select_related("unit").order_by("id")]

    with_db(settings, setup)
    with serving(sys.executable, settings.source) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_context(locale="zh-CN").new_page()
            _login(page, base)
            page.goto(f"{base}/rectification/new")
            assert page.locator("select[name=unit]").count() == 0
            page.fill("input[name=title]", "路灯损坏")
            page.click("#unit-unit")
            page.keyboard.type("花果")
            pick = page.locator('[data-unit-pick="520102001"]')
            pick.wait_for()
            assert "花果园社区" in pick.inner_text()
            page.keyboard.press("ArrowDown")  # the keyboard reaches the first suggestion
            assert page.evaluate("document.activeElement.dataset.unitPick") == "520102001"
            pick.click()
            assert page.input_value("#unit-unit") == "520102001"
            assert page.locator(".unit-chosen").inner_text() == "花果园社区"
            assert page.locator("#unit-unit-choices li").count() == 0  # the list closed
            page.click("#new-form button[type=submit]")
            page.wait_for_url(re.compile(r".*/rectification/tasks/\d+$"))

            # Without JavaScript: the code typed in, and the picker's own page
            page = browser.new_context(locale="zh-CN", java_script_enabled=False).new_page()
            _login(page, base)
            page.goto(f"{base}/rectification/new")
            page.fill("input[name=title]", "井盖缺失")
            page.fill("#unit-unit", "520103001")
            page.click("#new-form button[type=submit]")
            page.wait_for_url(re.compile(r".*/rectification/tasks/\d+$"))
            page.goto(f"{base}/rectification/new")
            page.click("a.unit-find")
            page.wait_for_url(re.compile(r".*/units/find\?.*"))
            page.click('a.unit-narrow[href*="parent=520102"]')  # 南明区 → its communities
            page.click('a[data-unit-code="520102001"]')
            page.wait_for_url(re.compile(r".*/rectification/new\?unit=520102001$"))
            assert page.input_value("#unit-unit") == "520102001"
            page.fill("input[name=title]", "占道经营")
            page.click("#new-form button[type=submit]")
            page.wait_for_url(re.compile(r".*/rectification/tasks/\d+$"))
        finally:
            browser.close()
    assert with_db(settings, tasks) == [("路灯损坏", "520102001"), ("井盖缺失", "520103001"),
                                        ("占道经营", "520102001")]
