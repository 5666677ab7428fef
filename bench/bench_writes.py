"""Server time per request of the two write paths under load, in process, on PostgreSQL.

    python bench/bench_writes.py
    pyinstrument bench/bench_writes.py            # where the time goes (pyinstrument from PyPI)

The app runs in this process behind a thin ASGI wrapper that times each request from the
call to the last byte sent, so the figure is the server's own time (routing, middleware,
checks, queries, rendering) without the client's. Requests go one after another, so no
request waits for another; the database is PostgreSQL on loopback.

- coverage report submission (POST /api/coverage/reports, the load benchmark's write): an
  instructor of the Guiyang demo changes a report of one of their organizations, figures
  different each time;
- satisfaction answer (POST /satisfaction/s/KEY/UNIT, the burst benchmark's write): a new
  device with its own one-time form each time, from 1,500 addresses.

Baseline: GET /api/me of the same logged-in user, through the same wrapper, same run.
"""

# No `from __future__ import annotations`: bench/run.py loads this file by path.
import asyncio
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

PG_URL = os.environ.get("KAOHE_TEST_PG", "postgres://postgres@127.0.0.1:5432/test")
N = int(os.environ.get("KAOHE_BENCH_WRITES_N", "400"))
DAY = "2014-11-20"


def _bench_load():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_load_helpers_w",
                                                  Path(__file__).with_name("bench_load.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class Timed:
    """ASGI wrapper: seconds per request, by the first path segment after the method."""

    def __init__(self, app: Any):
        self.app = app
        self.times: dict[str, list[float]] = {}
        self.label = "other"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        await self.app(scope, receive, send)
        self.times.setdefault(self.label, []).append(time.perf_counter() - started)


def figure(values: list[float]) -> tuple[float, float]:
    s = sorted(values)
    return statistics.mean(s), s[int(len(s) * 0.99) - 1]


async def coverage_writes(bl) -> dict[str, Any]:
    from core.app import create_app, platform_lifespan
    from core.boot import boot
    from core.demo import demo_password

    name = f"kaohe_bench_writes_{os.getpid()}"
    work = Path(tempfile.mkdtemp(prefix="kaohe-bench-writes-"))
    settings_path = bl.write_settings(work, f"{PG_URL.rsplit('/', 1)[0]}/{name}")
    await bl._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await bl._admin(f'CREATE DATABASE "{name}"')
    try:
        await bl.build_demo(settings_path)
        settings, host = boot(str(settings_path))
        app = create_app(settings, host, run_scheduler=False)
        timed = Timed(app)
        async with platform_lifespan(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=timed),
                                         base_url="http://bench") as c:
                r = await c.post("/login", data={"username": "zdy0001",
                                                 "password": demo_password("instructor")})
                assert r.status_code in (302, 303), r.text[:200]
                c.headers["X-CSRF-Token"] = (await c.get("/api/me")).json()["csrf"]
                mine = (await c.get("/api/coverage/my-organizations")).json()
                period, orgs = mine["period"], [o["uscc"] for o in mine["organizations"]]
                for n in range(1, N + 1):
                    timed.label = "submit"
                    formal, prob = 1 + n % 9, n % 3
                    r = await c.post("/api/coverage/reports", json={
                        "period": period, "uscc": orgs[n % len(orgs)],
                        "party_members": formal + prob, "formal_members": formal,
                        "probationary_members": prob, "visits": n, "activities": n % 5,
                        "remarks": f"writes #{n}"})
                    assert r.status_code == 200, r.text[:300]
                    timed.label = "me"
                    assert (await c.get("/api/me")).status_code == 200
    finally:
        await bl._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)
    return timed.times


async def satisfaction_writes(bl) -> dict[str, Any]:
    from core.app import create_app, platform_lifespan
    from core.boot import boot

    spec_path = Path(__file__).with_name("bench_satisfaction.py")
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_sat_helpers_w", spec_path)
    bs = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bs
    spec.loader.exec_module(bs)
    name = f"kaohe_bench_writes_sat_{os.getpid()}"
    work = Path(tempfile.mkdtemp(prefix="kaohe-bench-writes-sat-"))
    settings_path = bl.write_settings(work, f"{PG_URL.rsplit('/', 1)[0]}/{name}")
    settings_path.write_text(settings_path.read_text().replace(
        "[app]\n", f'[app]\ntoday = "{DAY}"\n'), encoding="utf-8")
    await bl._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await bl._admin(f'CREATE DATABASE "{name}"')
    try:
        paths = await bs.prepare(settings_path)
        settings, host = boot(str(settings_path))
        app = create_app(settings, host, run_scheduler=False)
        timed = Timed(app)
        rng = random.Random(3)
        async with platform_lifespan(app):
            admin = httpx.AsyncClient(transport=httpx.ASGITransport(app=timed),
                                      base_url="http://bench")
            r = await admin.post("/login", data={"username": "bench_admin",
                                                 "password": "bench-pass-1"})
            assert r.status_code in (302, 303)
            forms = []
            for i in range(N):
                survey, unit = paths[i % len(paths)]
                phone = httpx.AsyncClient(transport=httpx.ASGITransport(
                    app=timed, client=(bs.address(i % bs.ADDRESSES), 5000)),
                    base_url="http://bench")
                timed.label = "form"
                page = await phone.get(f"/satisfaction/s/{survey}/{unit}")
                assert page.status_code == 200, page.text[:300]
                token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
                forms.append((phone, f"/satisfaction/s/{survey}/{unit}", token))
            for i, (phone, path, token) in enumerate(forms):
                timed.label = "answer"
                r = await phone.post(path, data={
                    "token": token, "q_overall": str(rng.randint(1, 3)), "q_safety": "1",
                    "q_services": "1", "q_medical": str(1 + i % 5), "q_grid_manager": "1",
                    "q_comment": ""})
                assert r.status_code == 200 and "答卷编号" in r.text, r.text[-300:]
                timed.label = "me"
                assert (await admin.get("/api/me")).status_code == 200
            for phone, _, _ in forms:
                await phone.aclose()
            await admin.aclose()
    finally:
        await bl._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)
    return timed.times


def run() -> list[dict[str, Any]]:
    bl = _bench_load()
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    out = []
    for label, fn, what in (
            ("coverage report submission (POST /api/coverage/reports)", coverage_writes,
             "an instructor changing one of their reports"),
            ("satisfaction answer (POST /satisfaction/s/KEY/UNIT)", satisfaction_writes,
             "a new device with its own one-time form, 1,500 addresses")):
        times = asyncio.run(fn(bl))
        w_mean, w_p99 = figure(times["submit" if "submit" in times else "answer"])
        b_mean, b_p99 = figure(times["me"])
        out.append({
            "name": f"server time per request: {label}, PostgreSQL",
            "seconds": w_mean, "baseline": b_mean, "ratio": w_mean / b_mean,
            "note": (f"mean of {N} sequential requests timed inside the server (ASGI call to "
                     f"last byte), p99 {w_p99 * 1000:.1f} ms; {what}; baseline: GET /api/me of "
                     f"the same session, mean (p99 {b_p99 * 1000:.1f} ms); load average at the "
                     f"start {load} on {os.cpu_count()} cores"),
        })
    return out


if __name__ == "__main__":
    for row in run():
        print(f"{row['name']}: {row['seconds'] * 1000:.2f} ms vs baseline "
              f"{row['baseline'] * 1000:.2f} ms (ratio {row['ratio']:.2f}) — {row['note']}")
