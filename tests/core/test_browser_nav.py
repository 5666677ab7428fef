"""In Debian's Chromium: each role logs in to a served platform and sees exactly its navigation.

The expectation is computed from core.web.nav_for (core items plus whatever the loaded plugins
contribute), never hard-coded, so a new plugin's nav item is checked without editing this test.
"""

from __future__ import annotations

import sys
import types

import pytest

from core import i18n
from core.web import nav_for
from tests.browser import ARGS, CHROMIUM, MARKS, serving
from tests.conftest import make_user, seed_units, with_db

ROLES = {"admin": None, "instructor": None, "unit_officer": "520102", "leader": None}
PASSWORD = "browser-pass-1"

pytestmark = MARKS


def _expected(role: str) -> list[tuple[str, str, str]]:
    fake = types.SimpleNamespace(role=role)
    return [(item.key, item.path, i18n.t(item.key, "zh")) for item in nav_for(fake)]


@pytest.mark.once
def test_each_role_sees_its_navigation(settings, tmp_path):
    from playwright.sync_api import sync_playwright

    async def users():
        await seed_units()
        for role, unit in ROLES.items():
            await make_user(f"b_{role}", role, password=PASSWORD, unit_code=unit)

    with_db(settings, users)
    shot = tmp_path / "admin-dashboard.png"
    with serving(sys.executable, settings.source) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=ARGS)
        try:
            for role in ROLES:
                context = browser.new_context(locale="zh-CN")
                page = context.new_page()
                page.goto(f"{base}/")  # not logged in: sent to the login form
                assert "/login" in page.url
                page.fill("input[name=username]", f"b_{role}")
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(f"{base}/")
                shown = page.eval_on_selector_all(
                    "#nav a[data-nav]",
                    "els => els.map(e => [e.dataset.nav, e.getAttribute('href'), e.textContent])")
                expected = _expected(role)
                assert [tuple(x) for x in shown] == expected, role
                assert expected and all(key != path for key, path, _ in expected)
                # Every item shown opens for this role (no item leads to a refusal).
                for _, path, _ in expected:
                    response = page.goto(f"{base}{path}")
                    assert response is not None and response.status == 200, (role, path)
                page.goto(f"{base}/")
                if role == "admin":
                    page.screenshot(path=str(shot), full_page=True)
                page.click("#logout")
                page.wait_for_url(f"{base}/login")
                page.goto(f"{base}/")
                assert "/login" in page.url  # the session is gone
                assert page.locator("#nav").count() == 0
                context.close()
        finally:
            browser.close()
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000


def test_expectations_differ_by_role(host):
    """Guard for the test above: the roles' navigations are not all alike."""
    navs = {role: set(_expected(role)) for role in ROLES}
    assert len(set(map(frozenset, navs.values()))) >= 2
    assert all(navs["admin"] != navs[r] for r in ROLES if r != "admin")
    assert ("nav.audit", "/audit", "审计日志") in navs["admin"]
    assert all(("nav.audit", "/audit", "审计日志") not in navs[r] for r in ROLES if r != "admin")


@pytest.mark.once
def test_on_a_phone_the_menu_folds_and_opens_without_javascript(settings, tmp_path):
    """At 390 px the admin's many links fold behind 菜单, so the page starts near the top; the
    button is a checkbox and label, so it opens with JavaScript off too."""
    from playwright.sync_api import sync_playwright

    async def users():
        await seed_units()
        await make_user("b_admin", "admin", password=PASSWORD)

    with_db(settings, users)
    with serving(sys.executable, settings.source) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            for js in (True, False):
                context = browser.new_context(locale="zh-CN", java_script_enabled=js,
                                              viewport={"width": 390, "height": 800})
                page = context.new_page()
                page.goto(f"{base}/login")
                page.fill("input[name=username]", "b_admin")
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(f"{base}/")
                header = page.locator("header.top").bounding_box()
                assert header["height"] < 150, header
                links = page.locator("#nav a[data-nav]")
                assert links.count() == len(_expected("admin")) and not links.first.is_visible()
                page.click("label.nav-toggle-label")
                assert page.locator("label.nav-toggle-label").inner_text().startswith("菜单")
                assert all(links.nth(i).is_visible() for i in range(links.count()))
                page.screenshot(path=str(tmp_path / f"menu-js-{js}.png"))
                links.nth(1).click()  # a folded link still leads to its page
                page.wait_for_load_state()
                assert page.url != f"{base}/"
                context.close()
            wide = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
            page = wide.new_page()
            page.goto(f"{base}/login")
            page.fill("input[name=username]", "b_admin")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")
            assert page.locator("#nav a[data-nav]").first.is_visible()
            assert not page.locator("label.nav-toggle-label").is_visible()
            wide.close()
        finally:
            browser.close()
