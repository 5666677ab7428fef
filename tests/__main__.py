"""Run the whole suite: once on SQLite, once on PostgreSQL, each in its own process.

`python -m tests` — used by the README and CI. It makes sure the services and the browser
the tests need are present (PostgreSQL started if it is installed but down, Debian's
chromium installed with apt-get when missing and we are root), then runs pytest twice.
Exit code 5 (no tests collected) counts as a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


def ensure_postgres() -> None:
    if _port_open("127.0.0.1", 5432):
        return
    if shutil.which("pg_ctlcluster") and Path("/etc/postgresql").exists():
        version = sorted(os.listdir("/etc/postgresql"))[-1]
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                       check=False)


def ensure_chromium() -> None:
    """Debian's chromium, plus a CJK font so screenshots of Chinese pages are readable."""
    missing = [pkg for pkg, present in (
        ("chromium", shutil.which("chromium")),
        ("fonts-wqy-zenhei", Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc").exists()),
    ) if not present]
    if not missing or os.geteuid() != 0 or not shutil.which("apt-get"):
        return
    print(f"installing {', '.join(missing)} for the browser tests", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=False, env=env)


def run(backend: str, extra: list[str]) -> int:
    print(f"\n=== test suite on {backend} ===", flush=True)
    env = {**os.environ, "KAOHE_TEST_DB": backend}
    code = subprocess.call([sys.executable, "-m", "pytest", *extra], cwd=ROOT, env=env)
    if code == 5:
        print(f"{backend}: pytest collected no tests: failing", flush=True)
        return 1
    return code


def main() -> int:
    extra = sys.argv[1:] or ["-q"]
    ensure_postgres()
    ensure_chromium()
    results = {backend: run(backend, extra) for backend in ("sqlite", "postgres")}
    failed = [b for b, c in results.items() if c != 0]
    print(f"\nsuite: sqlite={'ok' if results['sqlite'] == 0 else 'FAILED'} "
          f"postgres={'ok' if results['postgres'] == 0 else 'FAILED'}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
