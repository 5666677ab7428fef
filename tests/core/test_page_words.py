"""Every page a role reaches from the navigation, and one page of each kind linked from those
(two links deep), rendered on the Guiyang demo in zh and in en: no code word (status or group keys,
snake_case names, catalog keys, unformatted {placeholders}, None) and, in zh, no English
sentence."""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import urlsplit

from core import clock, demo
from tests.conftest import login

ROLES = ("admin", "instructor", "unit_officer", "leader")
ROOT = Path(__file__).resolve().parents[2]
# Pages that only answer a form or a one-time link (an upload's preview, a survey's answer
# sheet and thanks, a panel's ballot); their words are checked by their plugins' tests.
BY_FORMS = {"upload_preview.html", "coverage/review_confirm_all.html", "satisfaction/form.html",
            "satisfaction/thanks.html", "satisfaction/response.html", "satisfaction/message.html",
            "satisfaction/posters.html", "ranking/panel_ballot.html", "coverage/user_panel.html",
            "coverage/organization_close.html", "coverage/instructor.html"}
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
    try:
        report = {}
        for role in ROLES:
            user = ctx.users[role]
            await login(client, user.username, demo.demo_password(role))
            for lang in ("zh", "en"):
                pages, _ = await crawl(client, lang, names)
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
    assert set(TEMPLATES) - pages - BY_FORMS == set()
