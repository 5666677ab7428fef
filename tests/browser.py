"""What every browser test shares: Debian's chromium, its flags, a free port, a server wait."""

from __future__ import annotations

import asyncio
import os
import socket
import urllib.request

import pytest

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
