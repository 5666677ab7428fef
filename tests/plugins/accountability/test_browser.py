"""In Debian's Chromium: the admin approves from the queue, the unit appeals with a file,
the admin reduces the points — through the real forms of a served platform."""

from __future__ import annotations

import sys

from tests.browser import ARGS, CHROMIUM, MARKS, serving
from tests.conftest import make_user, with_db
from tests.plugins.accountability.helpers import apply_definition, ours, overdue, publish

PASSWORD = "browser-pass-1"

pytestmark = MARKS


def test_queue_appeal_and_decision_in_a_browser(settings, host, tmp_path):
    from playwright.sync_api import sync_playwright

    from plugins.accountability.models import Appeal, Record

    async def prepare():
        await apply_definition(host)
        await make_user("b_admin", "admin", password=PASSWORD)
        await make_user("b_nm", "unit_officer", password=PASSWORD, unit_code="520102")
        for days, threshold in ((1, 1), (15, 15)):
            result = ours(await publish(overdue(3, days, threshold)))
        return result["records"][0]

    record_id = with_db(settings, prepare)
    evidence = tmp_path / "整改证明.pdf"
    evidence.write_bytes(b"%PDF-1.4 proof")
    with serving(sys.executable, settings.source) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=ARGS)
        try:
            def login(page, username):
                page.goto(f"{base}/login")
                page.fill("input[name=username]", username)
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(f"{base}/")

            admin = browser.new_context(locale="zh-CN").new_page()
            login(admin, "b_admin")
            admin.goto(f"{base}/accountability/queue")
            card = admin.locator(f"#proposal-{record_id}")
            assert "约谈" in card.inner_text()
            card.locator("input[name=responsible_person]").fill("李四")
            card.locator("form[action$='/approve'] button").click()
            admin.wait_for_url(f"{base}/accountability/queue?**")
            assert admin.locator(f"#proposal-{record_id}").count() == 0

            unit = browser.new_context(locale="zh-CN").new_page()
            login(unit, "b_nm")
            unit.goto(f"{base}/accountability/records")
            unit.click(f"tr[data-record='{record_id}'] a")
            unit.fill("textarea[name=reasons]", "已按期整改，系统登记滞后")
            unit.set_input_files("input[name=evidence]", str(evidence))
            unit.click("#appeal-form button[type=submit]")
            unit.wait_for_url(f"{base}/accountability/records/{record_id}?**")
            assert "申诉处理中" in unit.locator("#appeals").inner_text()

            admin.goto(f"{base}/accountability/records/{record_id}")
            admin.select_option("select[name=decision]", "reduce")
            admin.fill("input[name=new_points]", "0.5")
            admin.fill("textarea[name=reason]", "情节较轻")
            admin.click("#appeals form button[type=submit]")
            admin.wait_for_url(f"{base}/accountability/records/{record_id}?**")
            assert admin.locator("#points").inner_text().strip() == "0.50"
            admin.screenshot(path=str(tmp_path / "record.png"), full_page=True)
        finally:
            browser.close()

    async def check():
        record = await Record.get(id=record_id)
        appeal = await Appeal.get(record_id=record_id)
        return record.status, str(record.points), record.responsible_person, appeal.status

    assert with_db(settings, check) == ("approved", "0.50", "李四", "reduced")
