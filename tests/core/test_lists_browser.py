"""In Debian's Chromium, with JavaScript: an admin searches /users among a few hundred users,
goes to page 2 through the pager and changes the page size. htmx replaces #results only (the
page is not reloaded) and the address bar follows, so the URL reloads the same view."""

from __future__ import annotations

import sys
from urllib.parse import parse_qs, urlsplit

from tests.browser import ARGS, CHROMIUM, MARKS, serving
from tests.conftest import make_user, seed_units, with_db

PASSWORD = "browser-pass-1"

pytestmark = MARKS


async def _seed() -> dict[str, list[str]]:
    from core.accounts import User

    await seed_units()
    admin = await make_user("b_admin", "admin", password=PASSWORD)
    rows = [User(username=f"user{i:03d}", display_name=("王" if i % 3 == 0 else "李") + str(i),
                 email=f"u{i}@example.cn", role=("instructor", "leader")[i % 2],
                 password_hash=admin.password_hash) for i in range(320)]
    await User.bulk_create(rows)
    every = await User.all().order_by("username").values_list("username", flat=True)
    wang = await User.filter(display_name__contains="王").order_by("username").values_list(
        "username", flat=True)
    li = await User.filter(display_name__contains="李").order_by("username").values_list(
        "username", flat=True)
    return {"all": list(every), "wang": list(wang), "li": list(li)}


def _shown(page) -> list[str]:
    return page.eval_on_selector_all("#users tr[data-user]", "els => els.map(e => e.dataset.user)")


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_admin_searches_pages_and_resizes_the_user_list(settings, tmp_path):
    from playwright.sync_api import sync_playwright

    want = with_db(settings, _seed)
    with serving(sys.executable, settings.source) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(locale="zh-CN", viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/login")
            page.fill("input[name=username]", "b_admin")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")

            page.goto(f"{base}/users")
            assert _shown(page) == want["all"][:50]
            assert page.text_content(".pager-total").startswith(f"共 {len(want['all'])} 条")
            # A marker on the window survives an htmx swap, not a page load.
            page.evaluate("window.__kept = 1")

            page.fill("#users-filter input[name=q]", "王")
            page.press("#users-filter input[name=q]", "Enter")
            page.wait_for_function("() => location.search.includes('q=')")
            page.wait_for_selector(f"#users tr[data-user='{want['wang'][0]}']")
            assert _shown(page) == want["wang"][:50]
            assert page.text_content(".pager-total").startswith(f"共 {len(want['wang'])} 条")
            assert page.evaluate("window.__kept") == 1
            assert _query(page.url)["q"] == "王"

            page.click("#results .pager a[rel=next] >> nth=0")
            page.wait_for_function("() => new URLSearchParams(location.search).get('page') === '2'")
            page.wait_for_selector(f"#users tr[data-user='{want['wang'][50]}']")
            assert _shown(page) == want["wang"][50:100]
            assert page.evaluate("window.__kept") == 1
            assert _query(page.url) == {"q": "王", "page": "2", "size": "50"}

            page.select_option("#results .pager-size select >> nth=0", "20")
            page.wait_for_function("() => new URLSearchParams(location.search).get('size') === '20'")
            page.wait_for_function("() => document.querySelectorAll('#users tr[data-user]').length === 20")
            assert _shown(page) == want["wang"][:20]
            assert page.evaluate("window.__kept") == 1
            assert _query(page.url) == {"q": "王", "size": "20"}
            # The search box is still there and still holds the search (only #results changed).
            assert page.input_value("#users-filter input[name=q]") == "王"

            # A new search keeps the size the pager chose.
            page.fill("#users-filter input[name=q]", "李")
            page.press("#users-filter input[name=q]", "Enter")
            page.wait_for_function("() => new URLSearchParams(location.search).get('q') === '李'")
            page.wait_for_selector(f"#users tr[data-user='{want['li'][0]}']")
            assert _shown(page) == want["li"][:20]
            assert _query(page.url)["size"] == "20" and page.evaluate("window.__kept") == 1

            # The address bar reloads the same view, as a whole page.
            page.reload()
            assert _shown(page) == want["li"][:20]
            assert page.evaluate("window.__kept") is None
            page.screenshot(path=str(tmp_path / "users-search.png"), full_page=True)
        finally:
            browser.close()
    assert (tmp_path / "users-search.png").stat().st_size > 1000
