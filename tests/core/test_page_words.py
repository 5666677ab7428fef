"""Every page a role reaches from the navigation, and one page of each kind linked from those
(two links deep), rendered on the Guiyang demo in zh and in en: no code word (status or group keys,
snake_case names, catalog keys, unformatted {placeholders}, None) and, in zh, no English
sentence."""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from core import clock, demo
from tests.conftest import login

ROLES = ("admin", "instructor", "unit_officer", "leader")
ROOT = Path(__file__).resolve().parents[2]
# Every page template, walked by the crawl or, for the pages only a form post or a one-time
# link reaches (an upload's preview, a survey's sheet, a panel's ballot), by `form_pages`.
TEMPLATES = sorted(
    str(p.relative_to(d)) for d in [ROOT / "core" / "templates", *ROOT.glob("plugins/*/templates")]
    for p in d.rglob("*.html") if not p.name.startswith("_"))
# Links that are files, actions or another site's: not pages to read.
SKIP = re.compile(r"(/export|/download|/source|/template|/marked|/evidence|\.xlsx|\.docx|"
                  r"/logout|/lang/|/schema|/static/|/api/|^mailto:|^https?:)")
# Keys of statuses, groups and rules that must reach a page only as their label.
KEYS = ("pending", "approved", "rejected", "dispatched", "responded", "evaluated", "registered",
        "assessed", "carried_out", "proposed", "dismissed", "withdrawn", "superseded",
        "districts", "communities", "draft", "objection", "last_closed", "first_workday",
        "workday", "slug", "sha256", "cron", "unit_officer", "instructor", "leader", "admin",
        "submitted", "confirmed", "returned", "queued", "running", "failed", "partial")
KEY_WORD = re.compile(r"(?<![\w./@-])(" + "|".join(KEYS) + r")(?![\w.-])")
SNAKE = re.compile(r"(?<![\w./@-])[a-z]+_[a-z0-9_]+(?![\w.-])")
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
NONE = re.compile(r"(?<![\w-])None(?![\w-])")
NAMESPACES = ("nav", "common", "error", "errors", "error_page", "ranking", "rectification",
              "accountability", "coverage", "satisfaction", "users", "periods", "units", "jobs",
              "audit", "archive", "assessments", "inbox", "dashboard", "tokens", "events", "mail",
              "user_edit", "paging", "upload", "calendar", "role")
CATALOG_KEY = re.compile(r"(?<![\w/@-])(?:" + "|".join(NAMESPACES)
                         + r")\.[a-z_]+(?:\.[a-z0-9_]+)*(?![\w/-])")
# Three English words in a row; names of products and formats are not sentences.
ENGLISH = re.compile(r"[A-Za-z]{2,}(?: [A-Za-z]{2,}){2,}")
ALLOWED_ENGLISH = re.compile(r"(SHA-256|Microsoft Excel|LibreOffice Calc|API token)")


def visible_text(page: str, names: set[str] = frozenset()) -> str:
    """The page's words; identifiers shown as such (<code>), stored values shown as stored
    (the audit trail's data-stored cells) and user names are not the interface's words."""
    body = re.sub(r"<(script|style|code|pre|textarea)\b.*?</\1>", " ", page, flags=re.S)
    body = re.sub(r"<(td|span)\b[^>]*\bdata-stored\b[^>]*>.*?</\1>", " ", body, flags=re.S)
    body = re.sub(r"<[^>]+>", " ", body)
    text = re.sub(r"\s+", " ", html.unescape(body))
    if names:
        words = "|".join(map(re.escape, names))
        text = re.sub(r"(?<![\w.-])(" + words + r")(?![\w.-])", " ", text)
    return text


def problems(text: str, lang: str) -> list[str]:
    found = [f"code word {m}" for m in SNAKE.findall(text)]
    found += [f"placeholder {m}" for m in PLACEHOLDER.findall(text)]
    found += ["None" for _ in NONE.findall(text)]
    found += [f"catalog key {m}" for m in CATALOG_KEY.findall(text)]
    if lang == "zh":
        found += [f"key {m}" for m in KEY_WORD.findall(text)]
        found += [f"English '{m}'" for m in ENGLISH.findall(ALLOWED_ENGLISH.sub(" ", text))]
    return found


def links(page: str) -> list[str]:
    out = []
    for href in re.findall(r'<a\b[^>]*\bhref="([^"#]+)', page):
        href = html.unescape(href)
        if href.startswith("/") and not SKIP.search(href):
            out.append(href)
    return out


def kind(path: str) -> str:
    """A link's kind: its path with numbers and codes as placeholders, query names only."""
    parts = urlsplit(path)
    shape = re.sub(r"/[0-9][\w-]*", "/N", parts.path)
    return shape + ("?" + ",".join(sorted(k.split("=")[0] for k in parts.query.split("&")))
                    if parts.query else "")


async def crawl(client, lang: str, names: set[str]) -> tuple[dict[str, list[str]], set[str]]:
    """{path: problems} of the navigation's pages and one detail page of each kind."""
    client.cookies.set("lang", lang)
    dashboard = (await client.get("/", headers={"accept": "text/html"})).text
    nav = re.findall(r'<a href="([^"]+)" data-nav=', dashboard)
    assert len(nav) >= 3, nav
    seen_kinds: set[str] = set()
    queue = [(p, 0) for p in ["/", *nav]]
    done: dict[str, list[str]] = {}
    while queue:
        path, depth = queue.pop(0)
        if path in done:
            continue
        r = await client.get(path, headers={"accept": "text/html"})
        if "text/html" not in r.headers.get("content-type", ""):
            continue
        done[path] = ([f"status {r.status_code}"] if r.status_code != 200 else []) + \
            problems(visible_text(r.text, names), lang)
        if depth >= 2:
            continue
        for href in links(r.text):
            if kind(href) not in seen_kinds:
                seen_kinds.add(kind(href))
                queue.append((href, depth + 1))
    return done, seen_kinds


HTML = {"accept": "text/html"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def check(r, lang: str, names: set[str], expect: tuple[int, ...] = (200,)) -> list[str]:
    return ([f"status {r.status_code}"] if r.status_code not in expect else []) + \
        problems(visible_text(r.text, names), lang)


async def upload_previews(client, lang: str, csrf: str, names: set[str]) -> dict[str, list[str]]:
    """Each importer the user may use: its own template uploaded back as it came (what the
    preview says of an unchanged file) and with one cell changed to a word no column takes
    (a change or a refused cell, and the words of the refusal)."""
    import io

    import openpyxl

    out = {}
    page = (await client.get("/imports", headers=HTML)).text
    for name in sorted(set(re.findall(r'href="/imports/([\w-]+)"', page))):
        form = (await client.get(f"/imports/{name}", headers=HTML)).text
        if 'type="file"' not in form:
            continue  # this role reads the importer but may not upload
        # The first choice of each of the importer's fields (a period, a ranking group).
        fields = dict(re.findall(r'<select[^>]*name="(\w+)"[^>]*>.*?<option value="([^"]*)"',
                                 form, flags=re.S))
        template = await client.get(f"/imports/{name}/template", params=fields)
        if template.status_code != 200:
            continue
        book = openpyxl.load_workbook(io.BytesIO(template.content))
        sheet = book.worksheets[0]
        sheet.cell(sheet.max_row + 1 if sheet.max_row < 4 else 4, 3).value = "走查"
        changed = io.BytesIO()
        book.save(changed)
        for label, data in (("as downloaded", template.content), ("changed", changed.getvalue())):
            r = await client.post(f"/imports/{name}", data={"_csrf": csrf, **fields},
                                  files={"file": (f"{name}.xlsx", data, XLSX)}, headers=HTML)
            out[f"POST /imports/{name} ({label})"] = check(r, lang, names)
            if "upload-summary" not in r.text:
                out[f"POST /imports/{name} ({label})"].append("no preview")
    return out


async def open_survey():
    """A survey collecting on the demo's day (the demo's own have all closed by then): a copy
    of the last one, over the same communities."""
    import datetime as dt
    import secrets

    from plugins.satisfaction.models import Survey

    last = await Survey.all().order_by("-opens").first()
    return await Survey.create(
        key="walk-open", title=last.title, period_id=last.period_id, spec=last.spec,
        opens=dt.date(2014, 12, 22), closes=dt.date(2015, 1, 9), salt=secrets.token_hex(32),
        definition_version=last.definition_version)


async def answer_survey(client, lang: str, poster_page: str, names: set[str]
                        ) -> dict[str, list[str]]:
    """A respondent follows a poster's short link, sends the sheet half filled (the sheet
    again with its refusals), then whole with a complaint (the thanks); an unknown link and
    a closed survey's link give their messages."""
    out = {}
    anon = {k: v for k, v in client.cookies.items()}
    client.cookies.clear()
    client.cookies.set("lang", lang)
    try:
        link = re.findall(r'(/satisfaction/k/[\w-]+)', poster_page)[0]
        r = await client.get(link, headers=HTML, follow_redirects=True)
        out[f"GET {link}"] = check(r, lang, names)
        path = r.url.path
        token = re.search(r'name="token" value="([^"]+)"', r.text).group(1)
        r = await client.post(path, data={"token": token}, headers=HTML)
        out[f"POST {path} (empty)"] = check(r, lang, names, (422,))
        answers = {"token": token}
        for field, value in re.findall(r'<input[^>]*name="(q_\w+)"[^>]*value="([^"]*)"', r.text):
            answers.setdefault(field, value)
        for field in re.findall(r'<textarea[^>]*name="(q_\w+)"', r.text):
            answers[field] = "小区路灯坏了两个月"
        for field in re.findall(r'name="(c_\w+)"', r.text):
            answers[field] = "1"
        r = await client.post(path, data=answers, headers=HTML)
        out[f"POST {path}"] = check(r, lang, names)
        r = await client.get("/satisfaction/k/zz-zz", headers=HTML)
        out["GET /satisfaction/k/zz-zz"] = check(r, lang, names, (404,))
        closed = path.replace("walk-open", "guiyang-2014h2")
        r = await client.get(closed, headers=HTML)
        out[f"GET {closed}"] = check(r, lang, names, (410,))
    finally:
        client.cookies.clear()
        for k, v in anon.items():
            client.cookies.set(k, v)
    return out


async def form_pages(client, role: str, lang: str, csrf: str, names: set[str]
                     ) -> dict[str, list[str]]:
    """The pages behind a form post or a one-time link, as the role reaches them."""
    from core.accounts import User
    from plugins.ranking import annual_models as am
    from plugins.satisfaction.models import Response

    out = await upload_previews(client, lang, csrf, names)
    rnd = await am.PanelRound.all().order_by("id").first()
    r = await client.get(f"/ranking/panels/{rnd.id}", headers=HTML)  # an account's ballot
    out[f"GET /ranking/panels/{rnd.id}"] = check(r, lang, names)
    if role != "admin":
        return out
    r = await client.get("/coverage/review/confirm-all", headers=HTML)
    out["GET /coverage/review/confirm-all"] = check(r, lang, names)
    posters = await client.get("/satisfaction/surveys/walk-open/posters", headers=HTML)
    out["GET /satisfaction/surveys/walk-open/posters"] = check(posters, lang, names)
    out.update(await answer_survey(client, lang, posters.text, names))
    answered = await Response.filter(survey__key="walk-open").order_by("-id").first()
    r = await client.get(f"/satisfaction/responses/{answered.id}", headers=HTML)
    out[f"GET /satisfaction/responses/{answered.id}"] = check(r, lang, names)
    # The instructor's account (the organizations they cover) and their reassignment page.
    instructor = await User.filter(role="instructor").order_by("id").first()
    r = await client.get(f"/users/{instructor.id}/edit", headers=HTML)
    out[f"GET /users/{instructor.id}/edit"] = check(r, lang, names)
    link = f"/coverage/instructors/{instructor.id}"  # the panel's link once they leave
    out[f"GET {link}"] = check(await client.get(link, headers=HTML), lang, names)
    # Closing an organization asks first; the question is a page of its own.
    registry = (await client.get("/coverage/registry", headers=HTML)).text
    org = re.findall(r'href="(/coverage/org/[0-9A-Z]+)"', registry)[0]
    r = await client.post(f"{org}/close", headers=HTML, data={
        "_csrf": csrf, "status": "closed", "closed_on": "2014-12-01", "reason": "单位注销"})
    out[f"POST {org}/close"] = check(r, lang, names)
    # An outside rater's ballot, opened from the code's link without an account.
    cookies = {k: v for k, v in client.cookies.items()}
    client.cookies.clear()
    client.cookies.set("lang", lang)
    r = await client.get(f"/ranking/rate/{rnd.id}", headers=HTML)
    out[f"GET /ranking/rate/{rnd.id}"] = check(r, lang, names)
    client.cookies.clear()
    for k, v in cookies.items():
        client.cookies.set(k, v)
    return out


@pytest.mark.once
async def test_every_page_reads_in_the_users_language(client, settings, host):
    rendered: set[str] = set()
    env = client.app.template_engine.engine
    get_template = env.get_template

    def noting(name, *args, **kwargs):  # which templates the walk renders
        rendered.add(getattr(name, "name", name))
        return get_template(name, *args, **kwargs)

    env.get_template = noting
    ctx = await demo.build(settings, host, seed=2014)
    from core.accounts import User

    names = set(await User.all().values_list("username", flat=True))
    await open_survey()
    try:
        report = {}
        for role in ROLES:
            user = ctx.users[role]
            csrf = await login(client, user.username, demo.demo_password(role))
            for lang in ("zh", "en"):
                pages, _ = await crawl(client, lang, names)
                pages.update(await form_pages(client, role, lang, csrf, names))
                # The error page too, as people meet it.
                r = await client.get("/no-such-page", headers={"accept": "text/html"})
                found = problems(visible_text(r.text, names), lang)
                if r.status_code != 404 or found:
                    report[f"{role} {lang} error page"] = [f"status {r.status_code}", *found]
                assert len(pages) >= 4, (role, lang, pages)
                for path, found in pages.items():
                    if found:
                        report[f"{role} {lang} {path}"] = sorted(set(found))[:8]
            client.cookies.clear()
        for lang in ("zh", "en"):  # the login page, as everyone first meets it
            client.cookies.set("lang", lang)
            r = await client.get("/login", headers={"accept": "text/html"})
            if problems(visible_text(r.text), lang):
                report[f"anonymous {lang} /login"] = problems(visible_text(r.text), lang)
        assert not report, "\n".join(f"{k}: {v}" for k, v in report.items())
    finally:
        clock.travel(None)
        env.get_template = get_template
    pages = {n for n in rendered if not n.split("/")[-1].startswith("_")}
    assert "error.html" in pages
    # Every page template is read by the walk: a new page joins it or the test fails.
    assert set(TEMPLATES) - pages == set()
