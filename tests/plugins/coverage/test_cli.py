"""`kaohe import coverage-reports` and `coverage-registry`, run as a real command."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core import db as core_db
from core.orgs import Period
from plugins.coverage import services
from plugins.coverage.models import CoverageReport, Organization
from tests.plugins.coverage.helpers import REPORT, fill
from tests.plugins.coverage.world import build_world, uscc, wrong_check

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def settings_extra():
    return "[coverage]\nprogress_min_rows = 3\n"


def _kaohe(settings, *args, stdin=""):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "core", "--settings", str(settings.source), *args],
                          input=stdin, capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=120)


def _db(settings, host, body):
    async def run():
        await core_db.init_db(settings, host)
        try:
            return await body()
        finally:
            await core_db.close_db()
    return asyncio.run(run())


@pytest.fixture
def world_file(settings, host, tmp_path):
    async def body():
        w = await build_world()
        data = await services.report_template_bytes(w["people"]["zhang"],
                                                    await Period.get(code="2014Q3"))
        orgs = {k: o.uscc for k, o in w["orgs"].items()}
        return orgs, fill(data, {orgs["E4"]: REPORT, orgs["E8"]: {**REPORT, "预备党员": -1}},
                          extra=[{**REPORT, "统一社会信用代码": wrong_check(orgs["E4"])}])

    orgs, data = _db(settings, host, body)
    path = tmp_path / "报送.xlsx"
    path.write_bytes(data)
    return orgs, path


def test_dry_run_prints_the_preview_and_saves_nothing(settings, host, world_file):
    _, path = world_file
    r = _kaohe(settings, "import", "coverage-reports", str(path), "--period", "2014Q3", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "create 1 · change 0 · unchanged 0 · errors 2 (2 rows)" in r.stdout
    assert "row 6 column A 统一社会信用代码" in r.stderr and "校验位" in r.stderr
    assert "column G 预备党员" in r.stderr
    assert "checking rows" in r.stderr  # the progress bar (3 rows or more here)
    assert "nothing saved (dry run)" in r.stdout
    assert _db(settings, host, lambda: CoverageReport.all().count()) == 0


def test_asks_before_saving_and_yes_skips_the_question(settings, host, world_file):
    orgs, path = world_file
    r = _kaohe(settings, "import", "coverage-reports", str(path), "--period", "2014Q3",
               "--user", "zhang", stdin="n\n")
    assert r.returncode == 0 and "save the valid rows?" in r.stdout and "nothing saved" in r.stdout
    assert _db(settings, host, lambda: CoverageReport.all().count()) == 0
    r = _kaohe(settings, "import", "coverage-reports", str(path), "--period", "2014Q3",
               "--user", "zhang", "--yes")
    assert r.returncode == 0, r.stderr
    assert "saved: created 1, changed 0" in r.stdout
    report = _db(settings, host, lambda: CoverageReport.get(uscc=orgs["E4"]))
    assert (report.party_members, report.formal_members) == (5, 4)
    r = _kaohe(settings, "import", "coverage-reports", str(path), "--period", "2014Q3", "--yes")
    assert "create 0 · change 0 · unchanged 1" in r.stdout and "nothing saved" in r.stdout


def test_refusals_name_the_option(settings, host, world_file):
    _, path = world_file
    r = _kaohe(settings, "import", "coverage-reports", str(path), "--period", "2014Q2", "--yes")
    assert r.returncode == 2 and "--period" in r.stderr and "closed" in r.stderr
    r = _kaohe(settings, "import", "coverage-reports", str(path), "--period", "2014Q4", "--yes")
    assert r.returncode == 2 and "--period" in r.stderr and "2014Q3" in r.stderr
    r = _kaohe(settings, "import", "coverage-reports", str(path), "--period", "2014Q3",
               "--user", "nobody")
    assert r.returncode == 2 and "--user" in r.stderr


def test_registry_import_from_the_command_line(settings, host, tmp_path):
    async def body():
        await build_world()
        return await services.registry_template_bytes(blank=True)

    blank = _db(settings, host, body)
    path = tmp_path / "名册.xlsx"
    path.write_bytes(fill(blank, {}, extra=[
        {"统一社会信用代码": uscc(1, "91520103"), "名称": "新甲", "类别": "非公企业", "社区代码": "520102001"},
        {"统一社会信用代码": uscc(2, "91520103"), "名称": "新乙", "类别": "社会组织", "社区代码": "999"},
    ]))
    r = _kaohe(settings, "import", "coverage-registry", str(path), "--full", "--yes")
    assert r.returncode == 0, r.stderr
    assert "create 1" in r.stdout and "missing from the file 12" in r.stdout
    assert "社区代码" in r.stderr
    assert "saved: created 1, changed 0, listed missing 12" in r.stdout
    assert _db(settings, host, lambda: Organization.filter(name="新甲").count()) == 1
