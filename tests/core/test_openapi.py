"""/schema tells the truth: schemathesis drives every API operation of a running `kaohe serve`
(SQLite) as an admin and as a unit officer, with a bounded number of generated cases per
operation, and checks that no answer is a server error and every answer matches the status,
content type and body the document declares."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.browser import free_port
from tests.conftest import BACKEND, seed_units, with_db

ROOT = Path(__file__).resolve().parents[2]
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance")
pytestmark = pytest.mark.skipif(BACKEND != "sqlite",
                                reason="the schema run drives the app on SQLite (SQLite run)")


@pytest.fixture
def server(settings, tmp_path):
    with_db(settings, _people)
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "core", "--settings", str(settings.source),
                             "serve", "--port", str(port), "--no-scheduler"], cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"{base}/schema/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "kaohe serve did not answer within 60 s"
            time.sleep(0.3)
        tokens = {}
        for role, (name, password) in PEOPLE.items():
            r = httpx.post(f"{base}/api/login", json={"username": name, "password": password})
            assert r.status_code == 201, r.text
            tokens[role] = r.json()["token"]
        yield base, tokens, tmp_path / "serve.log"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


PEOPLE = {"admin": ("st_admin", "St-admin-2014x"), "unit_officer": ("st_officer", "St-officer-2014x")}


async def _people() -> None:
    from core import accounts, assessments
    from core.orgs import OrgUnit
    from core.plugins import get_host

    await seed_units()
    text = (ROOT / "assessments" / "guiyang-2014.toml").read_text(encoding="utf-8")
    await assessments.apply(text, get_host(), applied_by="test")
    await accounts.create_user(*PEOPLE["admin"], "admin")
    await accounts.create_user(*PEOPLE["unit_officer"], "unit_officer",
                               unit=await OrgUnit.get(code="520102"))


@pytest.mark.parametrize("role", ["admin", "unit_officer"])
def test_every_operation_answers_as_documented(server, role):
    base, tokens, log = server
    r = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", f"{base}/schema/openapi.json",
         "-H", f"Authorization: Bearer {tokens[role]}", "--checks", CHECKS,
         "--max-examples", "5", "--phases", "coverage,fuzzing", "--workers", "1",
         "--seed", "2014", "--max-failures", "20", "--warnings", "off", "--no-color"],
        cwd=log.parent, capture_output=True, text=True, timeout=600,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""})
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    assert " passed" in r.stdout or "No issues found" in r.stdout, r.stdout[-2000:]
