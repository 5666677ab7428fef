"""Hostile uploads against `kaohe serve`: peak server memory while refusing each file of
the security probe, beside a legitimate upload of similar size through the same route.

    python bench/bench_hostile.py

A temporary SQLite database gets its tables and one admin; one `python -m core serve`
process serves it. Its idle RSS is read once the first pages answered; then each file is
uploaded through the import flow's API for the registry (POST /api/imports/coverage-registry)
and for the rectification tasks (POST /api/imports/rectification-tasks). Before each upload the server's
peak-RSS counter is reset (`/proc/PID/clear_refs`, 5) and read back afterwards (VmHWM),
so the figure is the real peak of that request, not a sample. Goal: every hostile file
refused with its named code, the server still answering, and its peak < 100 MB above idle.
The baseline is a legitimate registry workbook on the same server, previewed (not
confirmed): 2,000 rows (about 140 KB) beside files under 1 MB, 20,000 rows (about 1.4 MB)
beside larger ones.
"""

import asyncio
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

logging.getLogger("httpx").setLevel(logging.WARNING)
GOAL_MB = 100
PASSWORD = "bench-Hostile-2014"
ROUTES = {"registry": "/api/imports/coverage-registry",
          "rectification": "/api/imports/rectification-tasks"}


def _settings(work: Path) -> Path:
    path = work / "settings.toml"
    path.write_text(f"""
[app]
secret_key = "bench-hostile"
data_dir = "data"
[database]
url = "sqlite://{work}/hostile.sqlite3"
[scheduler]
enabled = false
[mail]
host = "127.0.0.1"
port = 1
[storage]
evidence_dir = "evidence"
reports_dir = "reports"
""", encoding="utf-8")
    return path


async def _prepare(settings_path: Path) -> None:
    from core import accounts, db
    from core.audit import acting_as
    from core.boot import boot

    settings, host = boot(str(settings_path))
    config = await db.init_db(settings, host)
    try:
        await db.migrate(config)
        with acting_as("cli"):
            await accounts.create_user("admin", PASSWORD, "admin", display_name="管理员")
    finally:
        await db.close_db()


def _rss_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def files() -> tuple[dict[str, bytes], dict[str, bytes]]:
    """({size: legitimate baseline}, {name: hostile file}); all from the registry template."""
    from stdnum.cn import uscc

    from plugins.coverage.workbooks import registry_template
    from tests.core import hostile

    def rows(n: int) -> list[dict]:
        out = []
        for i in range(n):
            body = f"91520102{i:09d}"
            out.append({"uscc": body + uscc.calc_check_digit(body), "name": f"贵阳某企业{i}",
                        "kind": "非公企业", "community": "520102001", "employees": 10 + i % 90,
                        "formal_members": i % 7, "probationary_members": i % 2})
        return out

    base = registry_template(rows(3), "组织名册")
    legit = {"small": registry_template(rows(2000), "组织名册"),
             "large": registry_template(rows(20000), "组织名册")}
    sheet = "xl/worksheets/sheet1.xml"
    probe = {
        "sparse A1+XFD90000": hostile.sparse(base, "XFD90000"),
        "sparse A1+Z1000000": hostile.sparse(base, "Z1000000"),
        "cells without references, 120,002 rows": hostile.replace_part(
            base, sheet, hostile.sparse_without_refs(120_000, 3)),
        "namespace-prefixed sparse sheet": hostile.replace_part(base, sheet,
                                                                hostile.prefixed_sparse()),
        "declared dimension A1:XFD1048576 (lies)": hostile.lying_dimension(base),
        "zip bomb (200 MB sheet)": hostile.zip_bomb(base),
        "zip bomb with lying size headers": hostile.lying_zip(base),
        "entity bomb (billion laughs)": hostile.entity_bomb(base),
        "entity bomb behind 3 MB of comment": hostile.entity_bomb(base, hidden=True),
        "3,000,000 shared strings": hostile.shared_strings_bomb(base),
    }
    return legit, probe


async def _measure(client: httpx.AsyncClient, pid: int, route: str, data: bytes
                   ) -> tuple[int, float, str]:
    """(peak KB during the request, seconds, what the server answered)."""
    _reset_peak(pid)
    started = time.perf_counter()
    r = await client.post(ROUTES[route], files={"file": ("upload.xlsx", data,
                          "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")})
    seconds = time.perf_counter() - started
    peak = _rss_kb(pid, "VmHWM")
    code = ""
    try:
        code = r.json().get("error", {}).get("code", "")
    except ValueError:
        code = "page"
    return peak, seconds, f"HTTP {r.status_code} {code}".strip()


def size_of(length: int, legit: dict[str, bytes]) -> str:
    return next(k for k, v in legit.items() if len(v) == length)


async def _bench(port: int, pid: int) -> list[dict]:
    from bench.bench_load import login  # the same logged-in client as the load benchmark

    user = await login(port, "admin", PASSWORD)
    client = user.client
    legit, probe = files()
    for _ in range(3):  # warm both routes (imports, templates, first queries)
        for route in ROUTES:
            await client.post(ROUTES[route], files={"file": ("w.xlsx", legit["small"])})
    await asyncio.sleep(0.5)
    idle = _rss_kb(pid, "VmRSS")
    measured = []
    for route in ROUTES:
        for name, data in probe.items():
            before = _rss_kb(pid, "VmRSS")
            peak, seconds, answer = await _measure(client, pid, route, data)
            alive = (await client.get("/api/me")).status_code == 200
            measured.append((route, name, data, before, peak, seconds, answer, alive))
    # The baselines last: a legitimate read keeps its memory in the process afterwards and
    # would lift every later figure.
    baselines = {}
    for size in ("small", "large"):
        peak, seconds, answer = await _measure(client, pid, "registry", legit[size])
        baselines[size] = ((peak - idle) / 1024, seconds, answer, len(legit[size]))
    results = []
    for route, name, data, before, peak, seconds, answer, alive in measured:
        # The baseline nearer in size: files under 1 MB beside the small workbook.
        base_mb, base_s, base_answer, base_len = baselines[
            "small" if len(data) < 1024 * 1024 else "large"]
        above = (peak - idle) / 1024
        results.append({
            "name": f"hostile upload via {route}: {name} ({len(data) / 1024:,.0f} KB)",
            "seconds": above, "baseline": base_mb, "unit": "MB",
            "ratio": above / base_mb if base_mb > 0 else 0.0,
            "note": (f"peak server RSS above idle ({idle / 1024:.0f} MB; "
                     f"{(before - idle) / 1024:+.0f} MB when the request began); answer "
                     f"{answer} in {seconds:.2f} s; server alive after: {alive}; goal < "
                     f"{GOAL_MB} MB: {'met' if above < GOAL_MB and alive else 'NOT met'}; "
                     f"baseline: legitimate {'2,000' if size_of(base_len, legit) == 'small' else '20,000'}"
                     f"-row registry workbook ({base_len / 1024:,.0f} KB) previewed through "
                     f"the registry route, {base_answer} in {base_s:.2f} s"),
        })
    await client.aclose()
    return results


def run() -> list[dict]:
    from bench.bench_load import free_port, start_server, stop_server

    work = Path(tempfile.mkdtemp(prefix="kaohe-bench-hostile-"))
    proc = None
    try:
        settings_path = _settings(work)
        asyncio.run(_prepare(settings_path))
        port = free_port()
        proc = start_server(settings_path, port, work / "server.log")
        return asyncio.run(_bench(port, proc.pid))
    finally:
        stop_server(proc)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.chdir(ROOT)
    for row in run():
        print(f"{row['name']}: {row['seconds']:.1f} MB | baseline {row['baseline']:.1f} MB | "
              f"{row['note']}")
