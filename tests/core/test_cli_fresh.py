"""The CLI on a fresh machine: no silent databases, one line for each bad start, a global
--database option, and the commands `kaohe demo` prints work on the demo's data."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BACKEND, with_db, write_settings

ROOT = Path(__file__).resolve().parents[2]


def kaohe(cwd: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAOHE_")}
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=env)


def one_line(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_no_settings_file_creates_nothing_and_says_what_it_looked_for(tmp_path):
    for command in (["jobs", "list"], ["migrate"], ["audit", "verify"], ["check-config"]):
        line = one_line(kaohe(tmp_path, *command))
        assert line == (f"kaohe: no settings file: looked for {tmp_path / 'settings.toml'}; name "
                        "one with --settings FILE (or KAOHE_SETTINGS=FILE), or the database with "
                        "--database URL")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, expected", [
    (["--settings", "nope.toml"], "kaohe: settings: file nope.toml does not exist"),
    (["--settings", "."], "kaohe: settings: . is a folder, not a settings file"),
    (["--database", "mysql://root@127.0.0.1/kaohe"],
     "kaohe: --database: unknown database scheme 'mysql' (use sqlite://FILE or "
     "postgres://USER:PASSWORD@HOST:PORT/DB)"),
    (["--database", "missing.sqlite3"], "kaohe: --database: no SQLite database at {tmp}/missing.sqlite3"),
])
def test_bad_start_is_one_line(tmp_path, args, expected):
    assert one_line(kaohe(tmp_path, *args, "jobs", "list")) == expected.format(tmp=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_unknown_scheme_in_settings_is_one_line(tmp_path):
    path = write_settings(tmp_path / "cfg", "mysql://root@127.0.0.1/kaohe")
    line = one_line(kaohe(tmp_path, "--settings", str(path), "check-config"))
    assert line.startswith("kaohe: settings: database.url: unknown database scheme 'mysql'")


def test_bad_cron_rule_fails_check_config_naming_the_key(tmp_path):
    path = write_settings(tmp_path / "cfg", f"sqlite://{tmp_path}/k.sqlite3",
                          '[coverage]\nscan_cron = "61 * * * *"\n')
    line = one_line(kaohe(tmp_path, "--settings", str(path), "check-config"))
    assert line.startswith("kaohe: job 'coverage.should_establish_scan': cron rule '61 * * * *'")
    assert line.endswith("(settings: coverage.scan_cron)")
    path = write_settings(tmp_path / "cfg2", f"sqlite://{tmp_path}/k.sqlite3",
                          '[scheduler.triggers]\n"core.digest" = "0 25 * * *"\n')
    line = one_line(kaohe(tmp_path, "--settings", str(path), "check-config"))
    assert "job 'core.digest': cron rule '0 25 * * *'" in line
    assert line.endswith("(settings: scheduler.triggers.core.digest)")
    assert not (tmp_path / "k.sqlite3").exists()


def test_check_config_warns_about_the_default_secret(tmp_path):
    r = kaohe(ROOT, "--settings", str(ROOT / "settings.toml"), "check-config")
    assert r.returncode == 0, r.stderr
    assert "warning: app.secret_key is still the default" in r.stderr
    path = write_settings(tmp_path / "cfg", f"sqlite://{tmp_path}/k.sqlite3")
    r = kaohe(tmp_path, "--settings", str(path), "check-config")
    assert r.returncode == 0 and "warning" not in r.stderr, r.stderr


def test_check_config_names_the_worker_count(tmp_path):
    # One process on an SQLite file unless asked; [app] workers when given.
    path = write_settings(tmp_path / "cfg", f"sqlite://{tmp_path}/k.sqlite3")
    r = kaohe(tmp_path, "--settings", str(path), "check-config")
    assert r.returncode == 0 and r.stdout.strip().endswith("serve workers: 1"), r.stdout
    path = write_settings(tmp_path / "cfg2", "postgres://u@127.0.0.1:1/none")
    r = kaohe(tmp_path, "--settings", str(path), "check-config")
    assert r.stdout.strip().endswith(f"serve workers: {os.cpu_count()}"), r.stdout
    path.write_text(path.read_text().replace("[app]\n", "[app]\nworkers = 3\n"))
    r = kaohe(tmp_path, "--settings", str(path), "check-config")
    assert r.stdout.strip().endswith("serve workers: 3"), r.stdout
    path.write_text(path.read_text().replace("workers = 3", "workers = 0.5"))
    line = one_line(kaohe(tmp_path, "--settings", str(path), "check-config"))
    assert line == "kaohe: settings: app.workers: Expected `int`, got `float`"


def test_database_option_names_the_database_for_any_command(tmp_path, settings):
    if BACKEND != "sqlite":
        url = settings.database.url
    else:
        url = settings.database.url
        # A plain path is taken from the folder the user is in.
        os.symlink(url[len("sqlite://"):], tmp_path / "mine.sqlite3")
        r = kaohe(tmp_path, "--database", "mine.sqlite3", "audit", "verify")
        assert r.returncode == 0 and "audit chain intact" in r.stdout, r.stdout + r.stderr
    with_db(settings, _add_admin)
    r = kaohe(tmp_path, "--database", url, "users", "list")
    assert r.returncode == 0 and "fresh_admin" in r.stdout, r.stdout + r.stderr


async def _add_admin():
    from core import accounts

    await accounts.create_user("fresh_admin", "Kaohe-fresh-2014", "admin")


@pytest.mark.once("postgres")  # beside the walkthrough, which reads the same build
def test_demo_prints_commands_that_work_on_its_data(demo_build):
    tmp_path, r = demo_build
    out = r.stdout.splitlines()
    steps = out[out.index("try these on the demo's data:") + 1:]
    assert len(steps) == 3 and all(s.startswith("  python3 -m core --settings data/demo-settings.toml ")
                                   for s in steps), steps
    for step in steps:
        args = shlex.split(step)[3:]  # after `python3 -m core`
        done = kaohe(tmp_path, *args)
        assert done.returncode == 0, (step, done.stdout, done.stderr)
    assert (tmp_path / "ranking-2014H1.xlsx").stat().st_size > 10_000
    # The demo built only its own database; nothing else appeared in the folder.
    assert not (tmp_path / "data" / "kaohe.sqlite3").exists()
