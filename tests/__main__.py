"""Run the whole suite: once on SQLite, once on PostgreSQL, each in its own process.

`python -m tests` — used by the README and CI. It makes sure the services and the browser
the tests need are present (PostgreSQL started if it is installed but down, Debian's
chromium, LibreOffice headless and poppler installed with apt-get when missing and we are
root), then runs pytest twice,
at the same time, in two processes.
Exit code 5 (no tests collected) counts as a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COUNTS = re.compile(r"(\d+) (passed|failed|skipped|errors?)")


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


def ensure_office() -> None:
    """LibreOffice headless (Calc and Writer) to print workbooks and documents to PDF, and
    poppler's pdftotext/pdftoppm to read the PDF back; a CJK font for the Chinese."""
    missing = [pkg for pkg, present in (
        ("libreoffice-calc-nogui", Path("/usr/lib/libreoffice/program/libsclo.so").exists()),
        ("libreoffice-writer-nogui", Path("/usr/lib/libreoffice/program/libswlo.so").exists()),
        ("poppler-utils", shutil.which("pdftotext")),
        ("fonts-noto-cjk", Path("/usr/share/fonts/opentype/noto").exists()),
    ) if not present]
    if not missing or os.geteuid() != 0 or not shutil.which("apt-get"):
        return
    print(f"installing {', '.join(missing)} for the print tests", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
                   check=False, env=env)


def start(backend: str, extra: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "KAOHE_TEST_DB": backend}
    return subprocess.Popen([sys.executable, "-m", "pytest", *extra], cwd=ROOT, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)


def main() -> int:
    """Both databases run at once (two processes, two cores); their output follows in order."""
    extra = sys.argv[1:] or ["-q", "-p", "no:logging"]
    ensure_postgres()
    ensure_chromium()
    ensure_office()
    logs = {b: Path(tempfile.gettempdir()) / f"kaohe-tests-{b}-{os.getpid()}.log"
            for b in ("sqlite", "postgres")}
    procs = {b: start(b, extra, logs[b]) for b in logs}
    results = {}
    for backend, proc in procs.items():
        code = proc.wait()
        print(f"\n=== test suite on {backend} ===", flush=True)
        print(logs[backend].read_text(errors="replace"), flush=True)
        if code == 5:
            print(f"{backend}: pytest collected no tests: failing", flush=True)
            code = 1
        results[backend] = code
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    for log in logs.values():
        for count, word in COUNTS.findall(log.read_text(errors="replace").strip().splitlines()[-1]
                                          if log.read_text(errors="replace").strip() else ""):
            key = "failed" if word in ("failed", "error", "errors") else word
            if key in totals:
                totals[key] += int(count)
    ok = all(code == 0 for code in results.values())
    if not ok and totals["failed"] == 0:
        totals["failed"] = 1  # a run that crashed without a summary still fails
    print(f"sqlite={'ok' if results['sqlite'] == 0 else 'FAILED'} "
          f"postgres={'ok' if results['postgres'] == 0 else 'FAILED'}", flush=True)
    print(f"suite: {totals['passed']} passed, {totals['failed']} failed, "
          f"{totals['skipped']} skipped", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
