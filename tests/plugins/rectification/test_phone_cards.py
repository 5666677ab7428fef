"""In Chromium: the unit officer's and the admin's task lists are cards on a 390 px phone and
a table at 1280 px; the pager and the filters swap #results through htmx."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys

import pytest

from tests.browser import ARGS, CHROMIUM, MARKS, free_port, wait_for_server
from tests.conftest import make_user, seed_units
from tests.plugins.rectification.conftest import at

pytestmark = MARKS


@pytest.fixture
async def server(db, settings):
    from core.orgs import OrgUnit, Period, ensure_period
    from plugins.rectification.models import Task

    await seed_units()
    await ensure_period("2026")
    await make_user("admin1", "admin")
    await make_user("hgy_officer", "unit_officer", unit_code="520102001")
    period = await Period.get(code="2026")
    hgy, ql = await OrgUnit.get(code="520102001"), await OrgUnit.get(code="520103001")
    await Task.bulk_create([
        Task(number=f"ZG-{i:03d}", period=period, source="grid", category="general",
             title=f"小区道路破损需要尽快修复的问题{i}", severity="urgent",
             unit=hgy if i < 25 else ql, status="dispatched", registered_at=at("2026-09-01"),
             dispatched_at=at("2026-09-02"), deadline=dt.date(2026, 10, 1) + dt.timedelta(i),
             overdue=True) for i in range(32)])
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "core", "--settings", str(settings.source), "serve",
        "--port", str(port), "--no-scheduler", stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE, env={**os.environ})
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_for_server(f"{base}/login", proc)
        yield base
    finally:
        proc.terminate()
        await proc.wait()


CELLS = """() => [...document.querySelectorAll('#results table tr[data-task]')].slice(0, 2)
  .map(tr => ({row: tr.getBoundingClientRect().width,
               cells: [...tr.cells].map(td => { const r = td.getBoundingClientRect();
                                               return {w: r.width, top: r.top}; })}))"""


async def test_task_lists_are_cards_on_a_phone_and_page_with_htmx(server):
    pw_api = pytest.importorskip("playwright.async_api")
    async with pw_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for user, path in (("hgy_officer", "/rectification/mine?size=20"),
                               ("admin1", "/rectification/queue?step=dispatched&size=20")):
                for width in (390, 1280):
                    page = await browser.new_page(viewport={"width": width, "height": 800})
                    await page.goto(f"{server}/login")
                    await page.fill("input[name=username]", user)
                    await page.fill("input[name=password]", "password1")
                    await page.click("form[action='/login'] button[type=submit]")
                    await page.wait_for_url(f"{server}/")
                    await page.goto(f"{server}{path}")
                    rows = await page.evaluate(CELLS)
                    assert len(rows) == 2, (user, width)
                    for row in rows:
                        widths = [c["w"] for c in row["cells"]]
                        tops = [c["top"] for c in row["cells"]]
                        if width == 390:
                            # a card: every cell spans the card, one under the other
                            assert min(widths) >= row["row"] - 2 and min(widths) > 300, widths
                            assert tops == sorted(tops) and len(set(tops)) == len(tops)
                        else:
                            # a table row: the cells side by side on one line
                            assert max(widths) < row["row"] / 2 and len(set(tops)) == 1, widths
                    await page.close()
            # the pager and the filter form swap #results, the address follows
            page = await browser.new_page(viewport={"width": 390, "height": 800})
            await page.goto(f"{server}/login")
            await page.fill("input[name=username]", "admin1")
            await page.fill("input[name=password]", "password1")
            await page.click("form[action='/login'] button[type=submit]")
            await page.wait_for_url(f"{server}/")
            await page.goto(f"{server}/rectification/queue?step=dispatched&size=20")
            assert "共 32 条" in await page.inner_text("#results .pager-total")
            await page.evaluate("window.notReloaded = true")
            await page.click("#results .pager-next >> nth=0")
            await page.wait_for_function(
                "() => document.querySelector('#results .pager-total').innerText.includes('21')")
            assert "page=2" in page.url and await page.evaluate("window.notReloaded === true")
            assert len(await page.query_selector_all("#results tr[data-task]")) == 12
            await page.fill("#task-filters input[name=unit]", "黔灵")
            await page.press("#task-filters input[name=unit]", "Enter")
            await page.wait_for_function(
                "() => document.querySelector('#results .pager-total').innerText.includes('共 7 条')")
            assert "unit=" in page.url and await page.evaluate("window.notReloaded === true")
        finally:
            await browser.close()
