"""The four roles' work on the Guiyang demo, in Debian's Chromium, in zh and in en.

`kaohe demo` builds the demo once; each language walks its own copy served by `kaohe serve`.
The admin registers and dispatches a problem, the unit officer responds without a file, with an
.exe and with a PDF and asks for an extension (a bad date first), the admin decides, verifies
and evaluates; the admin approves an accountability proposal, the unit appeals it, the admin
decides; the admin saves a bad value, computes and publishes a ranking, sets up a report
subscription (a bad time rule first) and a user (a bad unit first), changes and disables the
user; the instructor reports an organization (a contradictory count first) and the admin
confirms it; the leader reads the results; the admin closes and reopens a period, adds a
community (a taken code first), edits an organization (a bad head count first), assigns and
unassigns an instructor, closes the organization, disables an instructor (told which
assignments end) and reads the jobs, events, audit, ladder and history pages. Every page met
on the way is read as shown: no raw HTML, no code word, no untranslated message, in zh no
English sentence, and in en no Chinese in the interface's own words.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

from core import i18n
from tests.browser import ARGS, CHROMIUM, MARKS, serving
from tests.core.test_page_words import problems, visible_text

pytestmark = [*MARKS, pytest.mark.once("postgres")]

PASSWORDS = {"admin": "kaohe-admin-2014", "instructor": "kaohe-instructor-2014",
             "officer": "kaohe-unit-officer-2014", "leader": "kaohe-leader-2014"}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
# The interface's own words on a page (headings, labels, buttons, messages), without what they
# hold: data (unit names, titles) is Chinese whatever the reader's language.
CHROME = "h2, h3, legend, label, button, th, .flash, .field-error, p.error, .pager-total"
JS_OWN_TEXT = ("els => els.map(e => [...e.childNodes].filter(n => n.nodeType === 3)"
               ".map(n => n.textContent.trim()).join(' ')).filter(t => t)")
HAN = re.compile(r"[\u4e00-\u9fff]")
HAN_RUN = re.compile(r"[0-9\u4e00-\u9fff（）、“”《》]*[\u4e00-\u9fff][0-9\u4e00-\u9fff（）、“”《》]*")
# What the walk types: data, shown back as typed.
TYPED = ("小区路灯不亮（走查）", "李四", "王五", "已更换路灯", "需协调供电部门", "已按期整改，系统登记滞后",
         "情节较轻", "每月排位（走查）", "走查联络员", "没有这个单位", "路灯照片.pdf", "整改证明.pdf", "南明区走查社区", "六百",
         "企业注销")
RAW_HTML = ("<!DOCTYPE", "<html", "</div>", "</form>", '{"status_code"', '{"detail"')


@pytest.fixture
def demo_dir(demo_build) -> Path:
    """The demo as `kaohe demo` builds it for a newcomer (once per session)."""
    return demo_build[0] / "data"


def copy_of(data: Path, to: Path) -> Path:
    """A copy of the demo's data whose settings point at the copy."""
    shutil.copytree(data, to)
    settings = to / "demo-settings.toml"
    settings.write_text(settings.read_text(encoding="utf-8").replace(str(data), str(to)),
                        encoding="utf-8")
    return settings


class Walk:
    """Pages opened as one language's users; `read` notes what each shows that it should not."""

    def __init__(self, browser, base: str, lang: str, names: set[str],
                 data: tuple[set[str], list[str]] = (set(), [])):
        self.browser, self.base, self.lang, self.names = browser, base, lang, names
        self.data_names, self.data_texts = data
        self.report: dict[str, list[str]] = {}
        self.seen: list[str] = []

    def t(self, key: str, **params) -> str:
        return i18n.t(key, self.lang, **params)

    async def as_user(self, username: str, phone: bool = False):
        size = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 900}
        context = await self.browser.new_context(viewport=size, accept_downloads=True,
                                                 locale="zh-CN" if self.lang == "zh" else "en")
        await context.add_cookies([{"name": "lang", "value": self.lang, "url": self.base}])
        page = await context.new_page()
        page.set_default_timeout(15_000)
        page.on("response", lambda r: self._status(r, page))
        await page.goto(f"{self.base}/login")
        await page.fill("input[name=username]", username)
        await page.fill("input[name=password]", PASSWORDS[username])
        await page.click("form[action='/login'] button[type=submit]")
        await page.wait_for_url(f"{self.base}/")
        await self.read(page, f"{username}: dashboard")
        return page

    def _status(self, response, page) -> None:
        if response.request.resource_type == "document" and response.status >= 500:
            self.report.setdefault(f"{response.url}", []).append(f"status {response.status}")

    def is_data(self, words: str) -> bool:
        return words in self.data_names or any(words in text for text in self.data_texts)

    async def go(self, page, path: str, label: str):
        await page.goto(f"{self.base}{path}")
        await self.read(page, label)

    async def read(self, page, label: str) -> None:
        await page.wait_for_load_state()
        self.seen.append(label)
        shown = await page.inner_text("body")
        found = [f"raw {m}" for m in RAW_HTML if m in shown]
        found += problems(visible_text(await page.content(), self.names), self.lang)
        if self.lang == "en":
            found += [f"Chinese '{m}'" for text in await page.eval_on_selector_all(
                CHROME, JS_OWN_TEXT) for m in HAN_RUN.findall(text) if not self.is_data(m)]
        if found:
            self.report[f"{label} ({page.url.removeprefix(self.base)})"] = sorted(set(found))[:8]

    async def submit(self, page, form: str, label: str, button: str = "button[type=submit]",
                     refused: bool = False):
        """Submit a form; unless a refusal is expected, none may be shown."""
        await page.click(f"{form} {button}")
        await self.read(page, label)
        errors = page.locator(".field-error, p.error")
        if not refused and await errors.count():
            said = " / ".join(await errors.all_inner_texts())
            raise AssertionError(f"{label}: refused: {said}")

    async def pick_unit(self, page, field: str, typed: str, code: str) -> None:
        """Type in a unit picker and choose from what it offers, as people do."""
        await page.fill(field, typed)
        choice = page.locator(f"[data-unit-pick='{code}']").first
        await choice.wait_for()
        await choice.click()

    async def narrowed(self, page, query: str, label: str, before: str | None) -> None:
        """A filter replaced the list in place: the address says so and the count changed
        from `before` (read before the filter was touched)."""
        await page.wait_for_url(f"**{query}**")
        await page.wait_for_function(
            "was => document.querySelector('#results .pager').dataset.total !== was", arg=before)
        await self.read(page, label)

    async def error_beside(self, page, field: str, label: str) -> str:
        """The refusal is shown beside the named field, in the page, not as a raw body."""
        error = page.locator(f".field-error[data-field='{field}']")
        if not await error.count():
            self.report.setdefault(label, []).append(f"no error beside {field}")
            return ""
        return (await error.first.inner_text()).strip()


async def rectification(w: Walk) -> None:
    admin = await w.as_user("admin")
    await w.go(admin, "/rectification/queue", "admin: rectification queue")
    await w.go(admin, "/rectification/new", "admin: register a problem")
    await admin.select_option("select[name=period]", "2014")
    await admin.select_option("select[name=severity]", "serious")
    await admin.fill("input[name=title]", "小区路灯不亮（走查）")
    await w.pick_unit(admin, "#new-form input[name=unit]", "南明区第03社区", "520102003")
    await admin.fill("input[name=responsible_person]", "李四")
    await w.submit(admin, "#new-form", "admin: registered")
    assert "/rectification/tasks/" in admin.url, admin.url
    task = admin.url.split("?")[0].removeprefix(w.base)
    await w.submit(admin, "#form-assess", "admin: assessed")
    await w.submit(admin, "#form-dispatch", "admin: dispatched")
    assert await admin.get_attribute("#task-facts [data-status]", "data-status") == "dispatched"

    officer = await w.as_user("officer")
    await w.go(officer, "/rectification/mine?group=to_respond", "officer: tasks to respond")
    await w.go(officer, task, "officer: the task")
    await officer.fill("#form-respond textarea[name=note]", "已更换路灯")
    await w.submit(officer, "#form-respond", "officer: responded without a file", refused=True)
    await w.error_beside(officer, "evidence", "officer: responded without a file")
    await officer.set_input_files("#form-respond input[name=files]", files=[
        {"name": "setup.exe", "mimeType": "application/octet-stream", "buffer": b"MZ\x90\x00"}])
    await officer.fill("#form-respond textarea[name=note]", "已更换路灯")
    await w.submit(officer, "#form-respond", "officer: responded with an .exe", refused=True)
    await w.error_beside(officer, "evidence", "officer: responded with an .exe")
    await officer.fill("#form-extension input[name=requested_deadline]", "2014-01-02")
    await officer.fill("#form-extension input[name=reason]", "需协调供电部门")
    await w.submit(officer, "#form-extension", "officer: extension to a past date", refused=True)
    await w.error_beside(officer, "requested_deadline", "officer: extension to a past date")
    await officer.fill("#form-extension input[name=requested_deadline]", "2015-01-22")
    await officer.fill("#form-extension input[name=reason]", "需协调供电部门")
    await w.submit(officer, "#form-extension", "officer: extension asked")

    await w.go(admin, task, "admin: the extension to decide")
    await w.submit(admin, "#form-decide", "admin: extension granted", "button[value='1']")
    await officer.goto(f"{w.base}{task}")
    await officer.fill("#form-respond textarea[name=note]", "已更换路灯")
    await officer.set_input_files("#form-respond input[name=files]", files=[
        {"name": "路灯照片.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    await w.submit(officer, "#form-respond", "officer: responded with a PDF")
    assert await officer.get_attribute("#task-facts [data-status]", "data-status") == "responded"
    await w.go(officer, "/rectification/mine?group=waiting", "officer: waiting for verification")

    await w.go(admin, task, "admin: the response to verify")
    await w.submit(admin, "#form-verify", "admin: verified", "#verify-pass")
    await admin.fill("#form-evaluate input[name=satisfaction]", "90")
    await w.submit(admin, "#form-evaluate", "admin: evaluated")
    assert await admin.get_attribute("#task-facts [data-status]", "data-status") == "evaluated"
    await w.go(admin, "/rectification/reports", "admin: rectification reports")
    await admin.context.close()
    await officer.context.close()


async def accountability(w: Walk) -> None:
    admin = await w.as_user("admin")
    await w.go(admin, "/accountability/queue", "admin: accountability queue")
    card = admin.locator("#proposal-56")
    await card.locator("input[name=responsible_person]").fill("王五")
    await card.locator("form[action$='/approve'] button").click()
    await w.read(admin, "admin: proposal approved")
    officer = await w.as_user("officer")
    await w.go(officer, "/accountability/records", "officer: records")
    await w.go(officer, "/accountability/records/56", "officer: the record to appeal")
    await officer.fill("textarea[name=reasons]", "已按期整改，系统登记滞后")
    await officer.set_input_files("input[name=evidence]", files=[
        {"name": "整改证明.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    await w.submit(officer, "#appeal-form", "officer: appealed")
    await w.go(admin, "/accountability/appeals", "admin: appeals")
    await w.go(admin, "/accountability/records/56", "admin: the appeal to decide")
    await admin.select_option("#appeals select[name=decision]", "reduce")
    await admin.fill("#appeals input[name=new_points]", "0.5")
    await admin.fill("#appeals textarea[name=reason]", "情节较轻")
    await w.submit(admin, "#appeals form", "admin: appeal decided")
    assert (await admin.inner_text("#points")).strip() == "0.50"
    await w.go(officer, "/inbox", "officer: inbox")
    await w.go(admin, "/accountability/ladder", "admin: the ladder")
    await admin.context.close()
    await officer.context.close()


async def ranking(w: Walk) -> None:
    admin = await w.as_user("admin")
    await w.go(admin, "/ranking/values?period=2014H2&group=districts", "admin: values grid")
    cell = admin.locator("input[name^='v:']").first
    name = await cell.get_attribute("name")
    await cell.fill("abc")
    await w.submit(admin, "", "admin: a bad value saved", "#save-values",
                   refused=True)
    await w.error_beside(admin, name, "admin: a bad value saved")
    await w.go(admin, "/ranking?period=2014H2&group=districts&check=1", "admin: check missing")
    await w.submit(admin, "form[action='/ranking/compute']", "admin: ranking computed", "#compute")
    await admin.click("#publish")
    await w.read(admin, "admin: the publishing step")
    confirm = admin.locator("#confirm-missing")
    if await confirm.count():
        await confirm.check()
    await w.submit(admin, "#publish-step", "admin: ranking published", "#publish-confirm")
    await admin.click("#ranking-table tr[data-unit] td.total a >> nth=0")
    await w.read(admin, "admin: a unit's total")

    await w.go(admin, "/ranking/subscriptions", "admin: subscriptions")
    await w.go(admin, "/ranking/subscriptions/new", "admin: a new subscription")
    await admin.fill("#subscription-edit input[name=key]", "walk-monthly")
    await admin.fill("#subscription-edit input[name=title]", "每月排位（走查）")
    await admin.fill("#subscription-edit input[name=cron]", "0 8 32 * *")
    await w.submit(admin, "#subscription-edit", "admin: a bad time rule", refused=True)
    await w.error_beside(admin, "cron", "admin: a bad time rule")
    await admin.select_option("#subscription-edit select[name=group]", "districts")
    await admin.fill("#subscription-edit input[name=cron]", "0 8 1 * *")
    await w.submit(admin, "#subscription-edit", "admin: subscription saved")
    assert "walk-monthly" in await admin.content() or "每月排位（走查）" in await admin.content()
    await admin.context.close()

    leader = await w.as_user("leader")
    await w.go(leader, "/ranking", "leader: rankings")
    await leader.click("#rankings a >> nth=0")
    await w.read(leader, "leader: a ranking")
    await w.go(leader, "/archive", "leader: report archive")
    await w.go(leader, "/coverage/stats", "leader: coverage statistics")
    await w.go(leader, "/rectification/", "leader: rectification")
    await leader.context.close()


async def coverage(w: Walk) -> None:
    phone = await w.as_user("instructor", phone=True)
    await w.go(phone, "/coverage/?period=2014Q4", "instructor: my reports")
    await phone.click("#my-orgs li.cov-item:has(.badge.bad) a.button >> nth=0")
    await w.read(phone, "instructor: the report form")
    uscc = phone.url.split("/report/")[1].split("?")[0]
    await phone.fill("input[name=party_members]", "3")
    await phone.fill("input[name=formal_members]", "3")
    await phone.fill("input[name=probationary_members]", "1")
    await phone.fill("input[name=visits]", "2")
    await phone.click("#save-report")
    await w.read(phone, "instructor: contradictory counts")
    assert await phone.locator("#form-errors").count(), "the contradiction is not said"
    await phone.fill("input[name=formal_members]", "2")
    await phone.click("#save-report")
    await w.read(phone, "instructor: report saved")
    await phone.context.close()

    admin = await w.as_user("admin")
    await w.go(admin, f"/coverage/review?period=2014Q4&status=submitted&q={uscc}",
               "admin: the report to confirm")
    await admin.check("input[data-check-all=ids]")
    await admin.click("#confirm-selected-button")
    await admin.wait_for_selector(".flash")
    await w.read(admin, "admin: report confirmed")
    await w.go(admin, "/coverage/stats?period=2014Q4", "admin: coverage statistics")
    await admin.context.close()


async def users(w: Walk) -> None:
    admin = await w.as_user("admin")
    await w.go(admin, "/users?q=walk", "admin: users")
    form = "#user-create"
    await admin.fill(f"{form} input[name=username]", "walk_officer")
    await admin.fill(f"{form} input[name=display_name]", "走查联络员")
    await admin.select_option(f"{form} select[name=role]", "unit_officer")
    await admin.fill(f"{form} input[name=unit]", "没有这个单位")
    await admin.fill(f"{form} input[name=password]", "walk-pass-2014")
    await w.submit(admin, form, "admin: a user with an unknown unit", refused=True)
    await w.error_beside(admin, "unit", "admin: a user with an unknown unit")
    await w.pick_unit(admin, f"{form} input[name=unit]", "南明区", "520102")
    await admin.fill(f"{form} input[name=password]", "walk-pass-2014")
    await w.submit(admin, form, "admin: user created")
    await w.go(admin, "/users?q=walk_officer", "admin: the new user")
    await admin.click("#users tr[data-user='walk_officer'] a >> nth=0")
    await w.read(admin, "admin: the user's page")
    await admin.fill("#user-edit input[name=email]", "walk@kaohe.example")
    await w.submit(admin, "#user-edit", "admin: user saved", "#user-edit-submit")
    await admin.click("#user-disable")
    await w.read(admin, "admin: disabling asks first")
    await w.submit(admin, "#user-disable-form", "admin: user disabled", "#user-disable-submit")
    await w.go(admin, "/no-such-page", "admin: a page that does not exist")
    await admin.context.close()


def data_of(db_path: Path) -> tuple[set[str], set[str], list[str]]:
    """User names; names of units, organizations, people and tasks; the texts of the
    assessment definitions and of what the walk types: Chinese on English pages as data."""
    with sqlite3.connect(db_path) as db:
        users = {row[0] for row in db.execute("select username from core_user")}
        named = {row[0] for table, column in (
            ("core_org_unit", "name"), ("coverage_org", "name"), ("core_user", "display_name"),
            ("rectification_task", "title"), ("coverage_party_org", "name"))
            for row in db.execute(f"select {column} from {table}") if row[0]}
        sources = [row[0] for row in db.execute("select source from core_assessment")]
    return users | {"walk_officer"}, named, [*sources, *TYPED]


async def lists(w: Walk) -> None:
    """City-scale lists as the admin meets them: paged, filtered and narrowed by a unit picked
    by name, the part that changes replaced in place (htmx) with the address kept in step."""
    admin = await w.as_user("admin")
    await w.go(admin, "/users", "admin: users")
    assert int(await admin.get_attribute("#results .pager", "data-total")) > 5000
    await admin.click("#results .pager-next")
    await admin.wait_for_url("**page=2**")
    await w.read(admin, "admin: users, page 2")
    await admin.select_option("#users-filter select[name=role]", "unit_officer")
    await admin.wait_for_url("**role=unit_officer**")
    before = await admin.get_attribute("#results .pager", "data-total")
    await w.pick_unit(admin, "#users-filter input[name=unit]", "南明区", "520102")
    await w.narrowed(admin, "unit=520102", "admin: unit officers of a district", before)
    shown = await admin.locator("#users tr[data-user]").evaluate_all(
        "rows => rows.map(r => r.dataset.user)")
    assert "officer" in shown and len(shown) < 50, shown
    await w.go(admin, "/coverage/compliance?period=2014Q4", "admin: compliance")
    before = await admin.get_attribute("#results .pager", "data-total")
    await w.pick_unit(admin, "#compliance-filters input[name=unit]", "南明区第03社区", "520102003")
    await w.narrowed(admin, "unit=520102003", "admin: compliance of a community", before)
    total = int(await admin.get_attribute("#results .pager", "data-total"))
    assert 0 < total < 200, total
    await admin.context.close()


async def admin_tasks(w: Walk) -> None:
    """The admin's own pages: periods, units, one organization and its instructors, the
    denominator history, events, jobs, audit and the ladder; an instructor disabled."""
    admin = await w.as_user("admin")
    await w.go(admin, "/periods", "admin: periods")
    await admin.click("tr[data-period='2014Q3'] a.button")
    await w.read(admin, "admin: closing a period asks first")
    await w.submit(admin, "#period-confirm-form", "admin: period closed", "#period-confirm-submit")
    assert await admin.locator("tr[data-period='2014Q3'] a[href$='/reopen']").count()
    await admin.click("tr[data-period='2014Q3'] a[href$='/reopen']")
    await w.submit(admin, "#period-confirm-form", "admin: period reopened", "#period-confirm-submit")

    await w.go(admin, "/units?unit=520102", "admin: units of a district")
    await admin.select_option("#unit-add select[name=level]", "community")
    await admin.fill("#unit-add input[name=name]", "南明区走查社区")
    await admin.fill("#unit-add input[name=code]", "520102001")  # taken: said beside the code
    await w.submit(admin, "#unit-add", "admin: a unit code taken", "#unit-add-submit",
                   refused=True)
    await w.error_beside(admin, "code", "admin: a unit code taken")
    await admin.fill("#unit-add input[name=code]", "520102099")
    await w.submit(admin, "#unit-add", "admin: community added", "#unit-add-submit")

    org = "/coverage/org/915201810000000010"
    await w.go(admin, org, "admin: one organization")
    await admin.fill("#org-edit input[name=employees]", "六百")
    await w.submit(admin, "#org-edit", "admin: a bad head count", "#org-edit-submit",
                   refused=True)
    await w.error_beside(admin, "employees", "admin: a bad head count")
    await admin.fill("#org-edit input[name=employees]", "640")
    await w.submit(admin, "#org-edit", "admin: organization saved", "#org-edit-submit")
    await admin.fill("#org-assign input[name=instructor]", "zdy0001")
    await w.submit(admin, "#org-assign", "admin: instructor assigned", "#org-assign-submit")
    row = admin.locator("#org-assignments tr[data-instructor='zdy0001'] button.unassign")
    await row.click()
    await w.read(admin, "admin: assignment ended")
    await admin.select_option("#org-close select[name=status]", "closed")
    await admin.fill("#org-close input[name=closed_on]", "2014-12-30")
    await admin.fill("#org-close input[name=reason]", "企业注销")
    await w.submit(admin, "#org-close", "admin: closing asks first", "#org-close-submit")
    await admin.click("form[action$='/close'] button[type=submit]")
    await w.read(admin, "admin: organization closed")
    await w.go(admin, "/coverage/history", "admin: denominator history")

    await w.go(admin, "/users/2939/disable", "admin: disabling an instructor says what ends")
    assert await admin.locator("#coverage-current").count()
    await w.submit(admin, "#user-disable-form", "admin: instructor disabled",
                   "#user-disable-submit")
    await w.go(admin, "/jobs", "admin: jobs")
    # Next runs are real dates beside the pinned demo day: the page says why.
    assert "2014-12-31" in await admin.inner_text("#jobs-pinned")
    for path, label in (("/jobs/events", "admin: events"),
                        ("/audit", "admin: audit trail"), ("/audit/verify", "admin: audit check"),
                        ("/accountability/ladder", "admin: ladder"), ("/mail", "admin: mail"),
                        ("/calendar", "admin: calendar"), ("/assessments", "admin: assessments")):
        await w.go(admin, path, label)
    await admin.context.close()


async def walk(base: str, lang: str, db_path: Path) -> Walk:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            people, named, texts = data_of(db_path)
            w = Walk(browser, base, lang, people, (named, texts))
            for part in (rectification, accountability, ranking, coverage, users, lists,
                         admin_tasks):
                try:
                    await part(w)
                except Exception as error:  # say where the walk stopped and what it had seen
                    raise AssertionError(f"{lang} walk stopped after {w.seen[-3:]}: {error}\n"
                                         + "\n".join(f"{k}: {v}" for k, v in w.report.items())
                                         ) from error
            return w
        finally:
            await browser.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_four_roles_walk_the_demo(demo_dir, tmp_path, lang):
    settings = copy_of(demo_dir, tmp_path / "data")
    with serving(sys.executable, settings) as base:
        w = asyncio.run(walk(base, lang, tmp_path / "data" / "demo.sqlite3"))
    assert len(w.seen) > 60, w.seen
    assert not w.report, "\n".join(f"{k}: {v}" for k, v in w.report.items())


if __name__ == "__main__":  # against a served demo: python -m tests.core.test_walkthrough_browser URL
    done = asyncio.run(walk(sys.argv[1], sys.argv[2], Path(sys.argv[3])))
    print(len(done.seen), "pages")
    print("\n".join(f"{k}: {v}" for k, v in done.report.items()))
