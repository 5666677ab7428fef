"""In Debian's chromium on a phone-sized window: an instructor reports one organization by
the form and the others by uploading the template; the admin confirms and sees the rates move."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from plugins.coverage.models import CoverageReport
from tests.browser import ARGS, CHROMIUM, MARKS, free_port, wait_for_server
from tests.conftest import make_user
from tests.plugins.coverage.helpers import REPORT, fill
from tests.plugins.coverage.world import build_world

pytestmark = MARKS




@pytest.fixture
async def server(db, settings):
    world = await build_world()
    await make_user("boss", "admin")
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "core", "--settings", str(settings.source), "serve",
        "--port", str(port), "--no-scheduler", stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE, env={**os.environ})
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_for_server(f"{base}/login", proc)
        yield base, world
    finally:
        proc.terminate()
        await proc.wait()


async def _login(page, base: str, name: str) -> None:
    await page.goto(f"{base}/login")
    await page.fill("input[name=username]", name)
    await page.fill("input[name=password]", "password1")
    await page.click("form[action='/login'] button[type=submit]")
    await page.wait_for_url(f"{base}/")


async def _org_rate(page, base: str) -> str:
    await page.goto(f"{base}/coverage/stats?period=2014Q3&unit=520100")
    cell = page.locator("tr[data-unit='520100'] td[data-figure='org_rate']")
    return (await cell.inner_text()).strip()


async def test_instructor_on_a_phone_reports_by_form_and_upload(server, tmp_path):
    pw_api = pytest.importorskip("playwright.async_api")
    base, world = server
    e4, e8 = world["orgs"]["E4"].uscc, world["orgs"]["E8"].uscc
    async with pw_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            admin = await browser.new_page(viewport={"width": 1280, "height": 900})
            await _login(admin, base, "boss")
            assert await _org_rate(admin, base) == "58.33%"  # 7 of 12 (hand-counted)

            phone = await browser.new_context(viewport={"width": 390, "height": 844},
                                              is_mobile=True, has_touch=True,
                                              device_scale_factor=3, accept_downloads=True)
            page = await phone.new_page()
            await _login(page, base, "zhang")
            await page.goto(f"{base}/coverage/?period=2014Q3")
            cards = page.locator("#my-orgs li.cov-item")
            assert await cards.count() == 2
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"the page is {width}px wide on a 390px screen"

            # One organization by the form: it set up its own party branch in August.
            await page.click(f"li[data-uscc='{e4}'] a.button")
            await page.fill("input[name=party_members]", "6")
            await page.fill("input[name=formal_members]", "6")  # counts the probationary one
            await page.fill("input[name=probationary_members]", "1")
            await page.select_option("select[name=party_org_change]", "established")
            await page.select_option("select[name=party_org_type]", "branch")
            await page.fill("input[name=change_date]", "2014-08-18")
            await page.fill("input[name=secretary]", "王书记")
            await page.fill("input[name=visits]", "2")
            await page.click("#save-report")
            assert "预备党员" in await page.inner_text("#form-errors")  # refused, field named
            await page.fill("input[name=formal_members]", "5")
            await page.click("#save-report")
            await page.wait_for_url(f"{base}/coverage/?period=2014Q3*")
            assert "已保存" in await page.inner_text(".flash")
            assert "已报送" in await page.inner_text(f"li[data-uscc='{e4}'] .badge")

            # The other by the Excel template: download, fill, upload, preview, confirm.
            async with page.expect_download() as info:
                await page.click("#download-template")
            download = await info.value
            template = Path(await download.path()).read_bytes()
            filled = tmp_path / "报送.xlsx"
            filled.write_bytes(fill(template, {e8: {**REPORT, "备注": "现场走访"}}))
            await page.set_input_files("#upload-form input[type=file]", str(filled))
            await page.click("#upload-form button[type=submit]")
            await page.wait_for_selector("#upload-summary")
            assert await page.inner_text("#n-create") == "1"
            assert await page.inner_text("#n-unchanged") == "1"  # E4, reported by the form
            assert await page.inner_text("#n-errors") == "0"
            assert await page.evaluate("document.documentElement.scrollWidth") <= 390
            await page.click("#confirm-upload")
            await page.wait_for_url(f"{base}/coverage/?period=2014Q3*")
            assert "新增 1" in await page.inner_text(".flash")
            assert "2" in await page.inner_text("#progress")
            await phone.close()

            # The admin confirms both reports; E4's own party branch raises the rate.
            assert await CoverageReport.filter(period_code="2014Q3").count() == 2
            await admin.goto(f"{base}/coverage/review?period=2014Q3&status=submitted")
            assert await admin.locator("#reports tr[data-uscc]").count() == 2
            await admin.check("input[data-check-all=ids]")  # select all
            await admin.click("#confirm-selected-button")  # htmx posts, then navigates
            await admin.wait_for_selector(".flash:has-text('已确认 2 份报送')")
            assert await _org_rate(admin, base) == "66.67%"  # 8 of 12
            await admin.goto(f"{base}/")
            assert "应建未建" in await admin.inner_text("#coverage-panel")
        finally:
            await browser.close()


async def test_admin_filters_pages_and_confirms_every_matching_report(server):
    """With htmx the filters and the pager replace the list only and keep the address in step;
    confirming all asks first, then shows a busy, disabled button until the server answers."""
    pw_api = pytest.importorskip("playwright.async_api")
    from core import clock
    from plugins.coverage.models import InstructorAssignment, Organization
    from tests.plugins.coverage.world import QL, uscc

    base, world = server
    zhang = world["people"]["zhang"]
    for n in range(25):
        org = await Organization.create(uscc=uscc(300 + n), name=f"浏览器组织{n:02d}",
                                        kind="enterprise", community=world["units"][QL],
                                        formal_members=2, employees=5)
        await InstructorAssignment.create(instructor=zhang, organization=org)
        await CoverageReport.create(organization=org, uscc=org.uscc, period_code="2014Q3",
                                    party_members=3, formal_members=3, probationary_members=0,
                                    submitted_by=zhang, submitted_at=clock.now())
    async with pw_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 390, "height": 844})
            await _login(page, base, "boss")
            await page.goto(f"{base}/coverage/review?period=2014Q3&status=submitted&size=20")
            assert "共 25 条" in await page.inner_text(".pager-total")
            await page.click(".pager-next")
            await page.wait_for_url("**page=2**")
            assert "第 21–25 条" in await page.inner_text(".pager-total")
            await page.fill("#review-filters input[name=q]", "浏览器组织1")
            await page.press("#review-filters input[name=q]", "Enter")
            await page.wait_for_url("**q=*")
            assert "共 10 条" in await page.inner_text(".pager-total")
            assert await page.evaluate("document.documentElement.scrollWidth") <= 390
            await page.click("#confirm-all")
            assert await page.get_attribute("#confirm-all-count", "data-count") == "10"

            async def slow(route):  # long enough to see the busy state
                await asyncio.sleep(1.0)
                await route.continue_()

            await page.route("**/coverage/review/confirm-all", slow)
            await page.click("#confirm-all-go")
            await page.wait_for_selector("#confirm-all-go[disabled]")
            assert await page.is_visible("#confirm-all-busy")
            await page.wait_for_selector(".flash:has-text('已确认 10 份报送')")
        finally:
            await browser.close()
    confirmed = await CoverageReport.filter(status="confirmed").values_list("uscc", flat=True)
    assert sorted(confirmed) == sorted(uscc(300 + n) for n in range(10, 20))
