"""Satisfaction survey speed, each figure beside a baseline measured in the same run.

(a) Burst: survey submissions offered at a fixed rate (200/s for 60 s) to `kaohe serve` on
    PostgreSQL, open loop (each submission starts on its schedule, whether or not earlier ones
    have finished), from 1,500 loopback addresses (127.0.x.y) so that the per-address limit is
    the production one and no address reaches it. Every form is fetched first (GET: a device
    cookie and a one-time token each), the submissions then wait out the minimum answering
    time. Baseline: GET /api/me of a logged-in admin, offered at the same rate for 10 s on the
    same server. Afterwards every acknowledged response id must be in the database, exactly
    once, unflagged.
(b) The results page of one survey with 100,000 responses over the Guiyang tree (93
    communities, their districts and the city, change against a previous survey) on SQLite
    and PostgreSQL, through the app in process; baseline: GET /api/me through the same client.

    python bench/bench_satisfaction.py
    KAOHE_BENCH_SAT_SECONDS=20 KAOHE_BENCH_SAT_RATE=100 python bench/bench_satisfaction.py
"""

# No `from __future__ import annotations`: bench/run.py loads this file by path.
import asyncio
import importlib.util
import logging
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.rawhttp import Connection  # noqa: E402

PG_URL = os.environ.get("KAOHE_TEST_PG", "postgres://postgres@127.0.0.1:5432/test")
RATE = float(os.environ.get("KAOHE_BENCH_SAT_RATE", "200"))
SECONDS = float(os.environ.get("KAOHE_BENCH_SAT_SECONDS", "60"))
# Worker processes of the served platform: as `kaohe serve` would start on PostgreSQL.
WORKERS = int(os.environ.get("KAOHE_BENCH_SAT_WORKERS", str(os.cpu_count() or 1)))
BASELINE_SECONDS = 10.0
ADDRESSES = 1500
RESULTS_RESPONSES = 100_000
DAY = "2014-11-20"  # inside the Guiyang definition's 2014H2 survey
SURVEY = "guiyang-2014h2"
P99_GOAL, PAGE_GOAL = 0.250, 0.300
logging.getLogger("httpx").setLevel(logging.WARNING)


def _load_bench_load():
    # The server helpers of the load benchmark (start, stop, settings, database admin).
    spec = importlib.util.spec_from_file_location("bench_load_helpers",
                                                  Path(__file__).with_name("bench_load.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[max(0, min(len(s) - 1, int(-(-q * len(s) // 1)) - 1))] if s else float("nan")


def address(i: int) -> str:
    return f"127.0.{1 + i // 250}.{1 + i % 250}"  # 8 answers each: under busy_address


async def prepare(settings_path: Path) -> list[tuple[str, str]]:
    """The Guiyang definition and tree, an admin; returns the (survey, unit) form paths."""
    from core import accounts, assessments, db, demo
    from core.audit import acting_as
    from core.boot import boot

    settings, host = boot(str(settings_path))
    config = await db.init_db(settings, host)
    try:
        await db.migrate(config)
        with acting_as("bench"):
            await assessments.apply(demo.DEFINITION.read_text("utf-8"), host)
            _, _, communities, _ = await demo.build_tree(random.Random(1))
            await accounts.create_user("bench_admin", "bench-pass-1", "admin")
        return [(SURVEY, c.code) for c in communities]
    finally:
        await db.close_db()


class Burst:
    """Phones: every form fetched and every answer sent on a new connection of its own
    (`connection: close`, as a phone opening the link), from one of 1,500 loopback
    addresses, on asyncio streams (tests/rawhttp.py): httpx cost more CPU than the server's
    work on this shared machine."""

    def __init__(self, port: int):
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.acked: list[int] = []

    def _conn(self, n: int) -> Connection:
        return Connection("127.0.0.1", self.port, local_host=address(n % ADDRESSES),
                          headers={"connection": "close"})

    async def fetch_form(self, n: int, path: str, gate: asyncio.Semaphore) -> dict[str, Any]:
        conn = self._conn(n)
        async with gate:
            try:
                r = await conn.request("GET", path)
            finally:
                await conn.close()
        if r.status != 200:
            raise RuntimeError(f"GET {path}: HTTP {r.status} {r.text[:200]}")
        token = re.search(r'name="token" value="([^"]+)"', r.text).group(1)
        cookie = conn.cookies.get("kaohe_device")
        if cookie is None:
            raise RuntimeError(f"GET {path}: no device cookie")
        return {"n": n, "path": path, "token": token, "cookie": cookie}

    async def submit(self, form: dict[str, Any], n: int) -> None:
        data = {"token": form["token"], "q_overall": str(1 + n % 3), "q_safety": str(1 + n % 2),
                "q_services": "1", "q_medical": str(1 + n % 5), "q_grid_manager": "1",
                "q_comment": ""}
        conn = self._conn(form["n"])
        conn.cookies["kaohe_device"] = form["cookie"]
        started = time.perf_counter()
        try:
            r = await conn.request("POST", form["path"], form=data)
        except Exception as exc:
            self.latencies.append(time.perf_counter() - started)
            self.errors.append(f"POST {form['path']}: {type(exc).__name__}: {exc}")
            return
        finally:
            await conn.close()
        self.latencies.append(time.perf_counter() - started)
        m = re.search(r"答卷编号：(\d+)", r.text)
        if r.status != 200 or not m:
            self.errors.append(f"POST {form['path']}: HTTP {r.status} {r.text[-300:]}")
            return
        self.acked.append(int(m.group(1)))

    async def close(self) -> None:
        pass


async def open_loop(rate: float, seconds: float, fire) -> float:
    """Start fire(i) at t0 + i/rate for every i; returns the wall time until all finished."""
    tasks = []
    started = time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(fire(i)))
    await asyncio.gather(*tasks)
    return time.perf_counter() - started


async def verify(settings_path: Path, acked: list[int]) -> dict[str, Any]:
    from core import db
    from core.boot import boot
    from plugins.satisfaction.models import Response

    settings, host = boot(str(settings_path))
    await db.init_db(settings, host)
    try:
        stored = await Response.filter(id__in=acked).values_list("id", "flags")
        total = await Response.all().count()
    finally:
        await db.close_db()
    return {"stored": len(stored), "total": total,
            "flagged": sum(1 for _, f in stored if f), "missing": len(set(acked) -
                                                                 {i for i, _ in stored})}


async def burst() -> dict[str, Any]:
    bl = _load_bench_load()
    name = f"kaohe_bench_sat_{os.getpid()}"
    work = Path(tempfile.mkdtemp(prefix="kaohe-bench-sat-"))
    settings_path = bl.write_settings(work, f"{PG_URL.rsplit('/', 1)[0]}/{name}")
    settings_path.write_text(settings_path.read_text().replace(
        '[app]\n', f'[app]\ntoday = "{DAY}"\n'), encoding="utf-8")
    await bl._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await bl._admin(f'CREATE DATABASE "{name}"')
    proc, load = None, None
    try:
        paths = await prepare(settings_path)
        proc = bl.start_server(settings_path, port := bl.free_port(), work / "server.log",
                               workers=WORKERS)
        load = Burst(port)
        # Baseline first, on the idle server: the cheapest authenticated request offered at
        # the same rate, each on a new connection like the answers.
        login = Connection("127.0.0.1", port)
        r = await login.request("POST", "/login", form={"username": "bench_admin",
                                                        "password": "bench-pass-1"})
        assert r.status in (302, 303), r.text[:200]
        session = dict(login.cookies)
        await login.close()
        base_lat: list[float] = []
        base_err: list[str] = []

        async def me(_: int) -> None:
            conn = Connection("127.0.0.1", port, cookies=dict(session),
                              headers={"connection": "close"})
            t = time.perf_counter()
            try:
                resp = await conn.request("GET", "/api/me")
                if resp.status != 200:
                    base_err.append(f"HTTP {resp.status}")
            except Exception as exc:
                base_err.append(repr(exc))
            finally:
                await conn.close()
            base_lat.append(time.perf_counter() - t)

        cpu = bl.CpuMeter(proc.pid, name)
        await cpu.start()
        base_s = await open_loop(RATE, BASELINE_SECONDS, me)
        base_cpu = await cpu.stop()
        n = int(RATE * SECONDS)
        gate = asyncio.Semaphore(16)
        started = time.perf_counter()
        forms = await asyncio.gather(*(
            load.fetch_form(i, f"/satisfaction/s/{paths[i % len(paths)][0]}/"
                               f"{paths[i % len(paths)][1]}", gate) for i in range(n)))
        fetch_s = time.perf_counter() - started
        # The minimum answering time (20 s) from the last form fetched.
        await asyncio.sleep(21)
        await cpu.start()
        burst_s = await open_loop(RATE, SECONDS, lambda i: load.submit(forms[i], i))
        burst_cpu = await cpu.stop()
        bl.stop_server(proc)
        proc = None
        checks = await verify(settings_path, load.acked)
        log = (work / "server.log").read_text(errors="replace")
        return {"n": n, "fetch_s": fetch_s, "burst_s": burst_s, "lat": load.latencies,
                "errors": load.errors, "acked": len(load.acked), "checks": checks,
                "base": base_lat, "base_errors": base_err, "base_s": base_s,
                "base_cpu": base_cpu, "burst_cpu": burst_cpu,
                "server_errors": [x for x in log.splitlines() if "Traceback" in x
                                  or " ERROR " in x]}
    finally:
        if load is not None:
            await load.close()
        bl.stop_server(proc)
        await bl._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)


# -- (b) the results page -------------------------------------------------------------------

async def results_page(backend: str) -> dict[str, Any]:
    from core import accounts, assessments, db, demo
    from core.app import create_app, platform_lifespan
    from core.audit import acting_as
    from core.boot import boot
    from core.clock import now
    from plugins.satisfaction.models import Response, Survey

    bl = _load_bench_load()
    work = Path(tempfile.mkdtemp(prefix="kaohe-bench-satpage-"))
    name = f"kaohe_bench_satpage_{os.getpid()}"
    url = f"sqlite://{work / 'kaohe.sqlite3'}" if backend == "sqlite" else \
        f"{PG_URL.rsplit('/', 1)[0]}/{name}"
    if backend == "postgres":
        await bl._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await bl._admin(f'CREATE DATABASE "{name}"')
    settings_path = bl.write_settings(work, url)
    settings_path.write_text(settings_path.read_text().replace(
        '[app]\n', f'[app]\ntoday = "{DAY}"\n'), encoding="utf-8")
    settings, host = boot(str(settings_path))
    try:
        config = await db.init_db(settings, host)
        try:
            await db.migrate(config)
            with acting_as("bench"):
                await assessments.apply(demo.DEFINITION.read_text("utf-8"), host)
                _, _, communities, _ = await demo.build_tree(random.Random(1))
                await accounts.create_user("bench_admin", "bench-pass-1", "admin")
            rng = random.Random(7)
            survey = await Survey.get(key=SURVEY)
            prev = await Survey.get(key="guiyang-2014h1")
            stamp = now()
            for target, count in ((survey, RESULTS_RESPONSES), (prev, 10_000)):
                rows = []
                for i in range(count):
                    v = rng.choice((1, 1, 1, 2, 2, 3))
                    rows.append(Response(
                        survey_id=target.id, unit_id=communities[i % len(communities)].id,
                        received_at=stamp, elapsed_seconds=60, nonce=f"{target.id}{i:031d}"[:32],
                        answers={"overall": v, "safety": 1}, index_value=v, safety_value=1,
                        flags="too_fast" if i % 50 == 0 else "", excluded=i % 50 == 0))
                await Response.bulk_create(rows, batch_size=5000)
        finally:
            await db.close_db()
        app = create_app(settings, host, run_scheduler=False)
        async with platform_lifespan(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as c:
                r = await c.post("/login", data={"username": "bench_admin",
                                                 "password": "bench-pass-1"})
                assert r.status_code in (302, 303)

                async def timed(path: str) -> tuple[float, httpx.Response]:
                    t = time.perf_counter()
                    resp = await c.get(path)
                    return time.perf_counter() - t, resp

                await timed(f"/satisfaction/surveys/{SURVEY}")  # warm the template
                page_times, me_times = [], []
                for _ in range(5):
                    s, resp = await timed(f"/satisfaction/surveys/{SURVEY}")
                    assert resp.status_code == 200, resp.text[:300]
                    page_times.append(s)
                    me_times.append((await timed("/api/me"))[0])
                size = len(resp.content)
                rows = resp.text.count("data-unit=")
    finally:
        if backend == "postgres":
            await bl._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)
    return {"page": statistics.median(page_times), "me": statistics.median(me_times),
            "size": size, "rows": rows}


def rows_of_burst(r: dict[str, Any]) -> list[dict[str, Any]]:
    lat, base = r["lat"], r["base"]
    p50, p99, b50, b99 = pct(lat, .5), pct(lat, .99), pct(base, .5), pct(base, .99)
    c = r["checks"]
    problems = []
    if r["errors"] or r["base_errors"]:
        first = (r["errors"] + r["base_errors"])[0]
        problems.append(f"ERRORS {len(r['errors'])} + {len(r['base_errors'])} (first: {first})")
    if c["missing"] or c["stored"] != r["acked"]:
        problems.append(f"LOST {c['missing']} of {r['acked']} acknowledged")
    if c["flagged"]:
        problems.append(f"FLAGGED {c['flagged']} (every submission should count)")
    if r["server_errors"]:
        problems.append(f"SERVER LOG {len(r['server_errors'])} error lines")
    met = "met" if p99 < P99_GOAL and not problems else "NOT MET"
    status = "; ".join(problems) or (
        f"errors 0; {r['acked']} acknowledged, all {c['stored']} in the database "
        f"({c['total']} rows in all, {c['flagged']} flagged), 0 lost")
    return [{
        "name": f"satisfaction burst: {RATE:.0f} submissions/s offered for {SECONDS:.0f} s, "
                f"kaohe serve --workers {WORKERS} on PostgreSQL, p99 latency",
        "seconds": p99, "baseline": b99, "ratio": p99 / b99 if b99 else float("inf"),
        "note": (f"p50 {p50:.3f} s, max {max(lat):.3f} s; {len(lat)} submissions in "
                 f"{r['burst_s']:.1f} s ({len(lat) / r['burst_s']:.1f}/s achieved) from "
                 f"{ADDRESSES} loopback addresses, each a new connection with its own device "
                 f"cookie and one-time token (forms fetched first in {r['fetch_s']:.0f} s); "
                 f"{status}; baseline: "
                 f"GET /api/me offered at {RATE:.0f}/s for {BASELINE_SECONDS:.0f} s on the same "
                 f"server (p50 {b50:.3f} s), each on a new connection; CPU (of one core) "
                 f"burst: {r['burst_cpu']}; baseline: {r['base_cpu']}; target p99 < "
                 f"{P99_GOAL * 1000:.0f} ms: {met}"),
    }]


def run() -> list[dict[str, Any]]:
    out = rows_of_burst(asyncio.run(burst()))
    for backend in ("sqlite", "postgres"):
        r = asyncio.run(results_page(backend))
        met = "met" if r["page"] < PAGE_GOAL else "NOT MET"
        out.append({
            "name": f"satisfaction results page, {RESULTS_RESPONSES:,} responses over the "
                    f"Guiyang tree ({backend})",
            "seconds": r["page"], "baseline": r["me"], "ratio": r["page"] / r["me"],
            "note": (f"median of 5 GET /satisfaction/surveys/{SURVEY} through the app in "
                     f"process: one GROUP BY over the responses, roll-up to {r['rows']} units, "
                     f"change against the previous survey (10,000 responses); "
                     f"{r['size'] / 1024:.0f} KB of HTML; baseline: GET /api/me through the "
                     f"same client; target < {PAGE_GOAL * 1000:.0f} ms: {met}"),
        })
    return out


if __name__ == "__main__":
    failed = False
    for row in run():
        print(f"{row['name']}: {row['seconds']:.4f} s vs baseline {row['baseline']:.4f} s "
              f"(ratio {row['ratio']:.2f}) — {row['note']}")
        failed = failed or any(w in row["note"] for w in ("ERRORS", "LOST", "NOT MET", "FLAGGED",
                                                          "SERVER LOG"))
    sys.exit(1 if failed else 0)
