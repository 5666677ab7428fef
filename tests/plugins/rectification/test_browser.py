"""In a real browser: register, dispatch, respond with a file, fail, respond again, close, evaluate."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from plugins.rectification.models import Task
from tests.browser import ARGS, CHROMIUM, MARKS, free_port, wait_for_server
from tests.conftest import make_user, seed_units
from tests.plugins.rectification.conftest import PDF

pytestmark = MARKS




@pytest.fixture
async def server(db, settings):
    from core.orgs import ensure_period

    await seed_units()
    await ensure_period("2026")
    await make_user("admin1", "admin")
    await make_user("hgy_officer", "unit_officer", unit_code="520102001")
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


async def test_task_through_all_six_steps_in_chromium(server):
    pw_api = pytest.importorskip("playwright.async_api")
    async with pw_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = await browser.new_page()

        async def login(name: str) -> None:
            await page.goto(f"{server}/login")
            await page.fill("input[name=username]", name)
            await page.fill("input[name=password]", "password1")
            await page.click("form[action='/login'] button[type=submit]")
            await page.wait_for_url(f"{server}/")

        async def logout() -> None:
            await page.click("#logout")
            await page.wait_for_url("**/login**")

        async def status() -> str:
            return await page.get_attribute("#task-facts [data-status]", "data-status")

        async def respond(note: str, name: str) -> None:
            await page.fill("#form-respond textarea[name=note]", note)
            await page.set_input_files("#form-respond input[name=files]", files=[
                {"name": name, "mimeType": "application/pdf", "buffer": PDF}])
            await page.click("#form-respond button[type=submit]")
            await page.wait_for_load_state()

        # 信息收集 → 案件研判 → 任务派遣 by the admin
        await login("admin1")
        await page.goto(f"{server}/rectification/queue")
        await page.click("#new-task")
        await page.select_option("select[name=period]", "2026")
        await page.fill("input[name=unit]", "520102001")
        await page.select_option("select[name=severity]", "serious")
        await page.fill("input[name=title]", "小区路灯不亮")
        await page.fill("input[name=responsible_person]", "李四")
        await page.click("#new-form button[type=submit]")
        await page.wait_for_url("**/rectification/tasks/*")
        task_url = page.url.split("?")[0]
        assert await status() == "registered"
        await page.click("#form-assess button[type=submit]")
        await page.wait_for_selector("#form-dispatch")
        await page.click("#form-dispatch button[type=submit]")
        await page.wait_for_selector("#task-facts [data-status=dispatched]")
        await logout()

        # 处理反馈 by the unit officer, with a file
        await login("hgy_officer")
        await page.goto(f"{server}/rectification/mine?group=to_respond")
        await page.click("#results tr[data-task] a")
        await page.wait_for_selector("#form-respond")
        await respond("已更换路灯", "路灯照片.pdf")
        assert await status() == "responded"
        assert "路灯照片.pdf" in await page.inner_text("#evidence")
        await logout()

        # 核查 fails: back to the unit with a reason
        await login("admin1")
        await page.goto(task_url)
        await page.fill("#verify-reason", "仍有两盏不亮")
        await page.click("#verify-fail")
        await page.wait_for_selector("#task-facts [data-status=dispatched]")
        assert await page.inner_text("#fail-count") == "1"
        assert "仍有两盏不亮" in await page.inner_text("#timeline")
        await logout()

        await login("hgy_officer")
        await page.goto(task_url)
        await respond("已全部修复", "复查照片.pdf")
        assert await status() == "responded"
        await logout()

        # 核查结案 and 综合评价
        await login("admin1")
        await page.goto(task_url)
        await page.click("#verify-pass")
        await page.wait_for_selector("#task-facts [data-status=closed]")
        await page.fill("#form-evaluate input[name=satisfaction]", "88")
        await page.click("#form-evaluate button[type=submit]")
        await page.wait_for_selector("#task-facts [data-status=evaluated]")
        assert await page.inner_text("#satisfaction") == "88"
        actions = await page.eval_on_selector_all("#timeline li[data-action]",
                                                  "els => els.map(e => e.dataset.action)")
        assert actions == ["register", "assess", "dispatch", "respond", "verify", "respond",
                           "verify", "evaluate"]
        # the evidence link downloads the file the officer uploaded
        async with page.expect_download() as info:
            await page.click("#evidence a >> nth=0")
        download = await info.value
        assert Path(await download.path()).read_bytes() == PDF
        await browser.close()

    task = await Task.get(title="小区路灯不亮")
    assert (task.status, task.fail_count, task.satisfaction) == ("evaluated", 1, 88)
