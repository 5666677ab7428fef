"""In Debian's Chromium, under the served Content-Security-Policy: the pages' behaviours come
from /static/kaohe.js (no inline handler is needed), the tokens page revokes a token, and the
browser reports no CSP violation."""

from __future__ import annotations

import sys

import pytest

from tests.browser import ARGS, CHROMIUM, MARKS, serving
from tests.conftest import make_user, with_db

PASSWORD = "browser-pass-1"
pytestmark = MARKS


@pytest.mark.once
def test_static_behaviours_and_tokens_page_under_the_csp(settings, tmp_path):
    from playwright.sync_api import sync_playwright

    async def setup():
        from core import accounts

        user = await make_user("b_admin", "admin", password=PASSWORD)
        await accounts.issue_token(user, "同步脚本")

    with_db(settings, setup)
    with serving(sys.executable, settings.source) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 800})
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text)
                    if "Content Security Policy" in m.text else None)
            page.goto(f"{base}/login")
            page.fill("input[name=username]", "b_admin")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")
            page.goto(f"{base}/tokens")
            assert page.locator("#tokens").inner_text().count("有效") == 1
            # the behaviours the coverage pages use, declared by data attributes
            page.evaluate("""() => {
              const f = document.createElement('form');
              f.id = 'probe';
              f.innerHTML = '<input type="checkbox" id="all" data-check-all="ids">' +
                '<input type="checkbox" name="ids" value="1"><input type="checkbox" name="ids" value="2">';
              document.querySelector('main').append(f);
            }""")
            page.check("#all")
            assert page.eval_on_selector_all("#probe input[name=ids]",
                                             "els => els.every(e => e.checked)")
            page.click("#tokens button[type=submit]")
            page.wait_for_url(f"{base}/tokens?msg=*")
            assert "已撤销" in page.locator("#tokens").inner_text()
            page.screenshot(path=str(tmp_path / "tokens-phone.png"), full_page=True)
            assert problems == []
        finally:
            browser.close()
