"""In Debian's Chromium: an admin enters values, computes and publishes a ranking; a leader
downloads it from the report archive and the workbook holds the ranking."""

from __future__ import annotations

import io
import sys

from python_calamine import CalamineWorkbook

from tests.browser import ARGS, CHROMIUM, MARKS, serving
from tests.conftest import make_user, with_db
from tests.plugins.ranking.helpers import SCENARIO, definition

PASSWORD = "browser-pass-1"

pytestmark = MARKS


def test_admin_publishes_and_leader_downloads_from_the_archive(settings, host, tmp_path):
    from playwright.sync_api import sync_playwright

    from core import assessments

    # The served process has no stub plugin: every indicator is entered by hand here.
    text = definition().replace('source = "plugin:stub.rate"', 'source = "manual"')

    async def world():
        await assessments.apply(text, host, applied_by="test")
        await make_user("b_admin", "admin", password=PASSWORD)
        await make_user("b_leader", "leader", password=PASSWORD)

    with_db(settings, world)
    with serving(sys.executable, settings.source) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=ARGS)
        try:
            page = login(browser, base, "b_admin")
            page.goto(f"{base}/ranking/values?period=2014&group=districts")
            for unit, (sat, sec, cases, rate) in SCENARIO.items():
                for key, value in (("sat", sat), ("sec", sec), ("cases", cases), ("rate", rate)):
                    page.fill(f"input[name='v:{unit}:{key}']", str(value))
            page.click("#save-values")
            page.wait_for_selector(".flash")
            assert "新增 16" in page.inner_text(".flash")

            page.goto(f"{base}/ranking?period=2014&group=districts&check=1")
            assert "0 个值" in page.inner_text("#missing-summary")  # nothing missing
            page.click("#compute")
            page.wait_for_selector("#ranking-table")
            assert "草稿" in page.inner_text("#status")
            page.click("#publish")  # the confirmation step says what publishing does
            page.wait_for_selector("#publish-step")
            assert "不能再修改" in page.inner_text("#publish-step")
            assert "已发布" not in page.inner_text("#status")
            page.click("#publish-confirm")
            page.wait_for_selector(".flash")
            assert "已发布" in page.inner_text("#status")
            first = page.locator("#ranking-table tr[data-unit]").first
            assert first.get_attribute("data-unit") == "520102"
            assert first.locator("td.total").inner_text().strip() == "100.00"
            # Drill-down from the total to each indicator's value and source.
            page.click("tr[data-unit='520112'] td.total a")
            page.wait_for_selector("#unit-total")
            assert page.inner_text("#unit-total") == "68.50"
            cases = page.locator("#aspect-gov tr[data-indicator='cases']")
            assert "50" in cases.locator("td.value").inner_text()
            assert "手工录入" in cases.locator("td.source").inner_text()
            assert cases.locator("td.score").inner_text().strip() == "0.00"
            page.context.close()

            page = login(browser, base, "b_leader")
            page.goto(f"{base}/archive")
            row = page.locator("#archive-list tr[data-report]").filter(has_text="工作绩效排位")
            assert row.count() == 1
            with page.expect_download() as info:
                row.locator("a[href$='/download']").click()
            data = open(info.value.path(), "rb").read()
            rows = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name(
                "排位汇总").to_python()
            assert [(r[0], r[1], r[3]) for r in rows[3:7]] == [
                (1, "520102", 100.0), (2, "520111", 82.0), (3, "520103", 79.0),
                (4, "520112", 68.5)]
            # Leaders read: the ranking page shows no publish button to them.
            page.goto(f"{base}/ranking")
            page.click("#rankings a")
            page.wait_for_selector("#ranking-table")
            assert page.locator("#publish").count() == 0
            assert page.locator("#download").count() == 1
            page.context.close()
        finally:
            browser.close()


def login(browser, base: str, username: str):
    context = browser.new_context(locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page
