"""Pages at city scale: every page each role reaches from its navigation, on the Guiyang demo.

    python bench/bench_pages.py                 # SQLite (the demo's own database)
    python bench/bench_pages.py --pg            # PostgreSQL (or KAOHE_BENCH_PAGES_PG=1)
    KAOHE_BENCH_PAGES_N=10 python bench/bench_pages.py
    KAOHE_BENCH_PAGES_DEMO=DIR python bench/bench_pages.py   # reuse DIR/data/demo.sqlite3

SQLite: `kaohe demo --no-serve` in a temporary folder (or DIR, built there if missing).
PostgreSQL: a fresh database kaohe_bench_pages_<pid> gets the same demo (core.demo.build, seed
2014) with the demo's settings (the clock pinned on 2014-12-31). Then `kaohe serve --workers 1`
serves it with the scheduler off, and for each of the four demo accounts (admin, instructor,
unit officer, leader) one kept-alive connection (tests/rawhttp.py) logs in, reads the
navigation links out of the dashboard's `<nav id="nav">` (so a new page is measured without
touching this file), follows a link's redirect and requests each page; where a page has a pager, its page 2 too; where it
has a filter form (`<form method="get">` other than the page-size one), one filtered view: the
form's first `<select>` set to its first non-empty option, or its first text box to "南明".

Each URL is requested N times (default 5; fewer when a page takes over 20 s in all); the
figure is the p95 of the time from sending the request to the last byte of the answer, on
one loopback connection with nothing else running, so it is the server's time. The baseline,
in the same run on the same connection: `GET /api/me`, the cheapest authenticated answer.
Goals (issue 17): every page p95 under 300 ms and its HTML under 300 KB.
"""

from __future__ import annotations

import asyncio
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (ROOT, HERE):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from bench_load import PG_URL, _admin, free_port, pct, start_server, stop_server  # noqa: E402

from tests.rawhttp import Connection  # noqa: E402

N = int(os.environ.get("KAOHE_BENCH_PAGES_N", "5"))
PAGE_BUDGET_S = 20.0  # stop repeating a page once it has taken this long in all
GOAL_S, GOAL_BYTES = 0.300, 300 * 1024
ROLES = {"admin": "admin", "instructor": "instructor", "unit_officer": "officer",
         "leader": "leader"}
NAV = re.compile(r'<nav class="nav" id="nav">(.*?)</nav>', re.S)
HREF = re.compile(r'<a href="([^"]+)"')
FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S | re.I)
SELECT = re.compile(r'<select\b[^>]*\bname="([^"]+)"[^>]*>(.*?)</select>', re.S | re.I)
OPTION = re.compile(r'<option\b[^>]*\bvalue="([^"]*)"', re.I)
TEXT = re.compile(r'<input\b(?=[^>]*\btype="(?:text|search)")[^>]*\bname="([^"]+)"', re.I)
HIDDEN = re.compile(r'<input\b(?=[^>]*\btype="hidden")[^>]*\bname="([^"]+)"[^>]*'
                    r'\bvalue="([^"]*)"', re.I)
NEXT = re.compile(r'<a rel="next"[^>]*href="([^"]+)"')


# -- the demo and its server ---------------------------------------------------------------
def sqlite_demo(folder: Path) -> Path:
    """`kaohe demo --no-serve` in `folder` (kept when it exists); returns its settings file."""
    settings = folder / "data" / "demo-settings.toml"
    if not (folder / "data" / "demo.sqlite3").exists():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "core", "demo", "--no-serve"], cwd=folder,
                       check=True, stdout=subprocess.DEVNULL)
    return settings


async def pg_demo(work: Path, name: str) -> Path:
    """The same demo on a fresh PostgreSQL database, with the demo's pinned day."""
    from core import clock, db, demo
    from core.boot import boot

    path = work / "settings.toml"
    path.write_text(f"""
[app]
secret_key = "bench-pages"
data_dir = "data"
today = "{demo.END.isoformat()}"
[database]
url = "{PG_URL.rsplit('/', 1)[0]}/{name}"
[mail]
host = "127.0.0.1"
port = 1
[storage]
evidence_dir = "evidence"
reports_dir = "reports"
""", encoding="utf-8")
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _admin(f'CREATE DATABASE "{name}"')
    settings, host = boot(str(path))
    config = await db.init_db(settings, host)
    try:
        await db.migrate(config)
        await demo.build(settings, host, seed=2014)
    finally:
        await db.close_db()
        clock.travel(clock.parse_day(settings.app.today))
    return path


def no_scheduler(settings: Path) -> Path:
    """A copy of the settings with the scheduler off: no job may run inside the window."""
    import tomllib

    import tomli_w

    raw = tomllib.loads(settings.read_text(encoding="utf-8"))
    raw.setdefault("scheduler", {})["enabled"] = False
    out = settings.with_name(settings.stem + "-bench.toml")
    out.write_text(tomli_w.dumps(raw), encoding="utf-8")
    return out


# -- pages -----------------------------------------------------------------------------------
@dataclass
class Figure:
    role: str
    url: str
    kind: str  # nav, page 2, filtered
    times: list[float] = field(default_factory=list)
    size: int = 0
    status: int = 0

    @property
    def p95(self) -> float:
        return pct(self.times, 0.95)


def nav_links(page: str) -> list[str]:
    m = NAV.search(page)
    return [html.unescape(h) for h in HREF.findall(m.group(1))] if m else []


def filtered_url(path: str, page: str) -> str | None:
    """One filtered view from the page's first filter form (not the pager's page-size form)."""
    for attrs, body in FORM.findall(page):
        if not re.search(r'method="get"', attrs, re.I) or "pager-size" in attrs:
            continue
        action = re.search(r'action="([^"]*)"', attrs)
        target = html.unescape(action.group(1)) if action and action.group(1) else path
        query = {k: html.unescape(v) for k, v in HIDDEN.findall(body)}
        for name, options in SELECT.findall(body):
            values = [html.unescape(v) for v in OPTION.findall(options) if v]
            if values and name not in ("size", "lang"):
                query[name] = values[0]
                return f"{urlsplit(target).path}?{urlencode(query)}"
        texts = TEXT.findall(body)
        if texts:
            query[texts[0]] = "南明"
            return f"{urlsplit(target).path}?{urlencode(query)}"
    return None


async def measure(conn: Connection, fig: Figure) -> str:
    spent, body = 0.0, b""
    for _ in range(N):
        started = time.perf_counter()
        r = await conn.request("GET", fig.url)
        took = time.perf_counter() - started
        fig.times.append(took)
        fig.status, fig.size, body = r.status, len(r.body), r.body
        spent += took
        if spent > PAGE_BUDGET_S:
            break
    return body.decode("utf-8", "replace")


async def resolve(conn: Connection, url: str) -> str:
    """Where a navigation link lands (/rectification/ redirects by role)."""
    for _ in range(3):
        r = await conn.request("GET", url)
        location = r.header("location")
        if r.status not in (301, 302, 303, 307) or not location:
            break
        url = f"{urlsplit(location).path}" + (f"?{urlsplit(location).query}"
                                               if urlsplit(location).query else "")
    return url


async def role_pages(port: int, role: str, username: str) -> tuple[list[Figure], Figure]:
    from core.demo import demo_password

    conn = Connection("127.0.0.1", port)
    try:
        r = await conn.request("POST", "/login", form={"username": username,
                                                       "password": demo_password(role)})
        if r.status not in (302, 303):
            raise RuntimeError(f"login {username}: HTTP {r.status} {r.text[:200]}")
        base = Figure(role, "/api/me", "baseline")
        await measure(conn, base)
        home = (await conn.request("GET", "/")).text
        figures: list[Figure] = []
        seen: set[str] = set()
        for link in nav_links(home):
            link = await resolve(conn, link)
            if link in seen:
                continue
            seen.add(link)
            fig = Figure(role, link, "nav")
            figures.append(fig)
            body = await measure(conn, fig)
            extra = []
            nxt = NEXT.search(body)
            if nxt:
                extra.append((html.unescape(nxt.group(1)), "page 2"))
            filt = filtered_url(urlsplit(link).path, body)
            if filt:
                extra.append((filt, "filtered"))
            for url, kind in extra:
                if url not in seen:
                    seen.add(url)
                    fig2 = Figure(role, url, kind)
                    figures.append(fig2)
                    await measure(conn, fig2)
        return figures, base
    finally:
        await conn.close()


async def bench(pg: bool) -> dict:
    work = Path(tempfile.mkdtemp(prefix="kaohe-bench-pages-"))
    name = f"kaohe_bench_pages_{os.getpid()}"
    proc = None
    try:
        started = time.perf_counter()
        if pg:
            settings = await pg_demo(work, name)
        else:
            reuse = os.environ.get("KAOHE_BENCH_PAGES_DEMO")
            settings = sqlite_demo(Path(reuse).resolve() if reuse else work)
        build_s = time.perf_counter() - started
        port = free_port()
        proc = start_server(no_scheduler(settings), port, work / "server.log")
        figures, bases = [], []
        for role, username in ROLES.items():
            got, base = await role_pages(port, role, username)
            figures += got
            bases.append(base)
        log = (work / "server.log").read_text(errors="replace")
        errors = [line for line in log.splitlines() if "Traceback" in line or " ERROR " in line]
        return {"figures": figures, "bases": bases, "build_s": build_s, "server_errors": errors,
                "db": "PostgreSQL" if pg else "SQLite"}
    finally:
        stop_server(proc)
        if pg:
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)


# -- figures -----------------------------------------------------------------------------------
def report(result: dict) -> list[dict]:
    figures, bases = result["figures"], result["bases"]
    base_times = [t for b in bases for t in b.times]
    base95 = pct(base_times, 0.95)
    print(f"\npages on the Guiyang demo, {result['db']}: {len(figures)} URLs, N={N}; "
          f"baseline GET /api/me p95 {base95 * 1000:.1f} ms (same run, same connections); "
          f"demo ready in {result['build_s']:.0f} s")
    print(f"{'role':<13}{'kind':<9}{'p95 ms':>9}{'KB':>9}{'/api/me':>9}  status  url")
    for f in figures:
        flag = " *" if f.p95 > GOAL_S or f.size > GOAL_BYTES or f.status != 200 else ""
        print(f"{f.role:<13}{f.kind:<9}{f.p95 * 1000:>9.1f}{f.size / 1024:>9.1f}"
              f"{f.p95 / base95:>8.0f}×  {f.status:>6}  {f.url}{flag}")
    slow = sorted(figures, key=lambda f: f.p95, reverse=True)[:10]
    print("\nslowest ten:")
    for f in slow:
        print(f"  {f.p95 * 1000:8.1f} ms {f.size / 1024:8.1f} KB  {f.role:<13}{f.url}")
    over_t = sum(1 for f in figures if f.p95 > GOAL_S)
    over_b = sum(1 for f in figures if f.size > GOAL_BYTES)
    bad = [f for f in figures if f.status != 200]
    print(f"\n{over_t} of {len(figures)} pages over 300 ms, {over_b} over 300 KB; "
          f"{len(bad)} answers not 200; {len(result['server_errors'])} server log error lines")
    for f in bad:
        print(f"  HTTP {f.status}: {f.role} {f.url}")
    top = slow[0] if slow else None
    biggest = max(figures, key=lambda f: f.size) if figures else None
    if top is None or biggest is None:
        return []
    met = "met" if not over_t and not over_b and not bad else "NOT MET"
    return [{
        "name": f"pages: slowest of {len(figures)} pages of the four roles, Guiyang demo on "
                f"{result['db']} (p95)",
        "seconds": top.p95, "baseline": base95, "ratio": top.p95 / base95,
        "note": (f"{top.role} {top.url} {top.size / 1024:.0f} KB; {over_t} pages over 300 ms, "
                 f"{over_b} over 300 KB (largest {biggest.url} {biggest.size / 1024:.0f} KB), "
                 f"{len(bad)} not 200; goal every page p95 < 300 ms and < 300 KB: {met}; "
                 f"baseline GET /api/me p95 on the same connections; N={N}"),
    }]


def run(pg: bool | None = None) -> list[dict]:
    if pg is None:
        pg = os.environ.get("KAOHE_BENCH_PAGES_PG", "") not in ("", "0")
    return report(asyncio.run(bench(pg)))


if __name__ == "__main__":
    for row in run(pg=True if "--pg" in sys.argv else None):
        print(f"{row['name']}: {row['seconds']:.3f} s vs {row['baseline']:.4f} s — {row['note']}")
