"""Database start-up: unreachable server, pending migrations, migrate command."""

import subprocess
import sys

from tests.conftest import write_settings


def kaohe(settings_file, *args, env=None):
    return subprocess.run([sys.executable, "-m", "core", "--settings", str(settings_file), *args],
                          capture_output=True, text=True, timeout=120, env=env)


def test_unreachable_database_is_one_line(tmp_path):
    f = write_settings(tmp_path, "postgres://postgres@127.0.0.1:9/none")
    r = kaohe(f, "migrate")
    assert r.returncode == 2
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "is not reachable" in lines[0] and "Traceback" not in r.stderr


def test_pending_migrations_refused_when_auto_migrate_off_then_migrate(tmp_path):
    db_file = tmp_path / "fresh.sqlite3"
    f = write_settings(tmp_path, f"sqlite://{db_file}")
    f.write_text(f.read_text().replace("[database]\n", "[database]\nauto_migrate = false\n"))
    r = kaohe(f, "users", "list")
    assert r.returncode == 2 and "pending migrations: run `kaohe migrate`" in r.stderr
    r = kaohe(f, "migrate")
    assert r.returncode == 0 and "applied core.0001_initial" in r.stdout
    r = kaohe(f, "migrate")
    assert r.returncode == 0 and "no pending migrations" in r.stdout
    r = kaohe(f, "users", "list")
    assert r.returncode == 0


async def test_app_refuses_to_start_with_pending_migrations(tmp_path):
    import pytest

    from core import db as core_db
    from core.app import create_app, platform_lifespan
    from core.boot import boot

    f = write_settings(tmp_path, f"sqlite://{tmp_path / 'x.sqlite3'}")
    f.write_text(f.read_text().replace("[database]\n", "[database]\nauto_migrate = false\n"))
    settings, host = boot(str(f))
    app = create_app(settings, host, run_scheduler=False)
    with pytest.raises(core_db.DatabaseError, match="pending migrations"):
        async with platform_lifespan(app):
            pass


def test_every_command_has_one_line_help(tmp_path):
    f = write_settings(tmp_path, f"sqlite://{tmp_path / 'h.sqlite3'}")
    r = kaohe(f, "--help")
    assert r.returncode == 0
    commands = [line.split()[0] for line in r.stdout.split("Commands:")[1].splitlines() if line.strip()]
    assert {"serve", "migrate", "makemigrations", "plugins", "check-config", "assessments",
            "demo", "users", "audit", "jobs"} <= set(commands)
    for line in r.stdout.split("Commands:")[1].splitlines():
        if line.strip():
            assert len(line.split(None, 1)) == 2, f"command without help: {line}"
