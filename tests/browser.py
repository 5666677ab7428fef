"""What every browser test shares: Debian's chromium, its flags, a free port, a server (in
process or as `kaohe serve`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHROMIUM = "/usr/bin/chromium"
# Headless as root; no background connections (the machine's network is closed).
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason=f"Debian's chromium is not installed at {CHROMIUM} "
                              "(`python -m tests` installs it with apt-get when run as root)"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_for_server(url: str, proc, timeout: float = 90) -> None:
    """Wait until `url` answers; fail with the server's last words if it exits first."""
    loop = asyncio.get_running_loop()
    for _ in range(int(timeout * 10)):
        if proc.returncode is not None:
            raise RuntimeError(f"server exited: {(await proc.stderr.read()).decode()[-800:]}")
        try:
            await loop.run_in_executor(None, lambda: urllib.request.urlopen(url, timeout=1))
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise TimeoutError(url)


@contextlib.contextmanager
def serving(python: str, settings_path: Path, env: dict | None = None):
    """`kaohe serve` on a free port; yields the base URL, stops the server afterwards."""
    port = free_port()
    proc = subprocess.Popen([python, "-m", "core", "--settings", str(settings_path), "serve",
                             "--port", str(port), "--no-scheduler"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                out, err = proc.communicate()
                raise AssertionError(f"kaohe serve exited {proc.returncode}: {out}{err}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise AssertionError("kaohe serve did not open its port within 60 s")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

