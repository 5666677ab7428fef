"""In Debian's Chromium: an admin opens the audit check after the newest entries were deleted
with SQL, runs it, and reads in Chinese how many are missing; at desktop width and at 390 px,
with nothing wider than the screen."""

from __future__ import annotations

import os
import shutil
import sys

from core import audit, audit_anchor
from core.audit import AuditEntry
from tests.browser import ARGS, CHROMIUM, MARKS, serving
from tests.conftest import make_user, with_db

PASSWORD = "browser-pass-1"
pytestmark = MARKS


def test_admin_runs_the_check_and_reads_what_is_missing(settings, tmp_path):
    from playwright.sync_api import sync_playwright
    from tortoise import Tortoise

    async def setup():
        await make_user("b_admin", "admin", password=PASSWORD)
        await audit.record_bulk("v.write", "thing", range(80), after={"k": "v"})
        anchor = await audit_anchor.write_anchor(settings)
        ids = await AuditEntry.all().order_by("-id").limit(30).values_list("id", flat=True)
        await Tortoise.get_connection("default").execute_query(
            f"DELETE FROM core_audit WHERE id IN ({', '.join(map(str, ids))})")
        kept = await AuditEntry.filter(id__lte=anchor["head_id"]).count()
        return anchor["count"] - kept

    missing = with_db(settings, setup)
    shots = os.environ.get("KAOHE_SHOTS")  # keep the screenshots somewhere to look at them
    with serving(sys.executable, settings.source) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            for width, height in ((1280, 900), (390, 844)):
                context = browser.new_context(locale="zh-CN",
                                              viewport={"width": width, "height": height})
                page = context.new_page()
                page.goto(f"{base}/login")
                page.fill("input[name=username]", "b_admin")
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(f"{base}/")
                page.goto(f"{base}/audit")
                page.click("#audit-verify-link")
                page.wait_for_url(f"{base}/audit/verify")
                assert "尚未运行校验" in page.inner_text("#verify-result")
                assert "80" in page.inner_text("#verify-anchor")
                page.click("#verify-run")
                page.wait_for_url(f"{base}/audit/verify?run=1")
                assert page.inner_text("#verify-verdict") == "校验未通过"
                findings = page.inner_text("#verify-findings")
                assert f"末尾缺少 {missing} 条记录" in findings, findings
                assert "哈希链完整" in findings
                overflow = page.evaluate(
                    "document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0, (width, overflow)
                shot = tmp_path / f"audit-verify-{width}.png"
                page.screenshot(path=str(shot), full_page=True)
                if shots:
                    os.makedirs(shots, exist_ok=True)
                    shutil.copy(shot, shots)
                context.close()
        finally:
            browser.close()
