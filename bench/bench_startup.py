"""Start-up time of `kaohe serve` against a bare Litestar app served the same way.

Both are started as fresh processes with uvicorn and timed until their first HTTP 200.
kaohe starts on an already migrated SQLite database so the figure is the start-up itself.
"""

from __future__ import annotations

import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPEAT = 3

BARE_APP = textwrap.dedent("""
    import uvicorn, sys
    from litestar import Litestar, get

    @get("/")
    async def hello() -> str:
        return "ok"

    uvicorn.run(Litestar([hello]), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_until_ready(cmd: list[str], url: str, cwd: Path, timeout: float = 60) -> float:
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while time.perf_counter() - started < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd} exited: {proc.stderr.read().decode()[-500:]}")
            try:
                with urllib.request.urlopen(url, timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.02)
        raise TimeoutError(url)
    finally:
        proc.terminate()
        proc.wait(10)


def run() -> list[dict]:
    work = Path(tempfile.mkdtemp(prefix="kaohe-bench-startup-"))
    settings = work / "settings.toml"
    settings.write_text(f'[database]\nurl = "sqlite://{work}/k.sqlite3"\n[scheduler]\nenabled = true\n',
                        encoding="utf-8")
    subprocess.run([sys.executable, "-m", "core", "--settings", str(settings), "migrate"],
                   cwd=ROOT, check=True, capture_output=True)
    bare_file = work / "bare.py"
    bare_file.write_text(BARE_APP, encoding="utf-8")
    bare, kaohe = [], []
    for _ in range(REPEAT):
        port = free_port()
        bare.append(time_until_ready([sys.executable, str(bare_file), str(port)],
                                     f"http://127.0.0.1:{port}/", work))
        port = free_port()
        kaohe.append(time_until_ready(
            [sys.executable, "-m", "core", "--settings", str(settings), "serve", "--port", str(port)],
            f"http://127.0.0.1:{port}/login", ROOT))
    b, k = statistics.median(bare), statistics.median(kaohe)
    return [{"name": "start-up: kaohe serve (4 plugins, scheduler) to first 200",
             "seconds": k, "baseline": b, "ratio": k / b,
             "note": f"baseline: bare Litestar hello world under uvicorn; median of {REPEAT}"}]


if __name__ == "__main__":
    for r in run():
        print(f"{r['name']}: {r['seconds']:.3f} s vs baseline {r['baseline']:.3f} s "
              f"(ratio {r['ratio']:.2f}) — {r['note']}")
