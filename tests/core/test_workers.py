"""`kaohe serve --workers 2` on PostgreSQL: real worker processes of one serve.

Each scheduled firing runs once although every worker schedules it (the mail job, every two
seconds, delivers each queued mail once to a real SMTP server); a worker killed is replaced
and the firings stay single; SIGTERM stops the parent and its workers. The login limit and
the survey's per-address limit hold across the two workers: attempts are sent over
connections known (from /proc) to be served by one worker or the other.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.browser import free_port
from tests.conftest import BACKEND, write_settings
from tests.rawhttp import Connection, server_pid_of

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/13"
pytestmark = pytest.mark.skipif(BACKEND != "postgres",
                                reason="worker processes share one PostgreSQL database")


def kaohe(settings_file: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", "--settings", str(settings_file), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def workers_of(parent: int) -> list[int]:
    """The worker processes uvicorn spawned (not multiprocessing's resource tracker)."""
    out = []
    for child in Path(f"/proc/{parent}/task/{parent}/children").read_text().split():
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
        if b"spawn_main" in cmdline:
            out.append(int(child))
    return sorted(out)


class Serve:
    def __init__(self, settings_file: Path, workers: int = 2):
        self.port = free_port()
        self.log = settings_file.parent / f"serve-{self.port}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "core", "--settings", str(settings_file), "serve",
                 "--port", str(self.port), "--workers", str(workers)],
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)

    async def ready(self, workers: int = 2, timeout: float = 90) -> list[int]:
        """Wait until `workers` workers answer; returns their pids."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(self.log.read_text(errors="replace")[-2000:])
            pids = workers_of(self.proc.pid)
            if len(pids) == workers:
                seen = await self.spread(pids, want=workers, tries=8, quiet=True)
                if seen is not None:
                    for conns in seen.values():
                        for c in conns:
                            await c.close()
                    return pids
            await asyncio.sleep(0.3)
        raise TimeoutError(self.log.read_text(errors="replace")[-2000:])

    async def spread(self, pids: list[int], want: int = 2, tries: int = 60,
                     quiet: bool = False, each: int = 2) -> dict[int, list[Connection]] | None:
        """Open connections until `want` workers each serve `each`; {pid: [conn]}."""
        by_pid: dict[int, list[Connection]] = {}
        for _ in range(tries):
            conn = Connection("127.0.0.1", self.port)
            try:
                r = await conn.request("GET", "/login")
            except OSError:
                await conn.close()
                await asyncio.sleep(0.2)
                continue
            pid = server_pid_of(conn.local_port, self.port, pids)
            if r.status != 200 or pid is None:
                await conn.close()
                continue
            by_pid.setdefault(pid, []).append(conn)
            if len(by_pid) >= want and all(len(v) >= each for v in by_pid.values()):
                break
        if len(by_pid) < want or any(len(v) < each for v in by_pid.values()):
            for conns in by_pid.values():
                for c in conns:
                    await c.close()
            if quiet:
                return None
            raise AssertionError(f"connections reached only workers {list(by_pid)}")
        return by_pid

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise
        return self.proc.returncode


async def test_each_firing_runs_once_a_dead_worker_is_replaced_and_sigterm_stops_all(
        db_url, tmp_path):
    from aiosmtpd.controller import Controller

    received: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope)
            return "250 OK"

    smtp = Controller(Handler(), hostname="127.0.0.1", port=free_port())
    smtp.start()
    settings_file = write_settings(tmp_path, db_url)
    text = settings_file.read_text()
    text = text.replace("[scheduler]\nenabled = false", "[scheduler]\nenabled = true\n"
                        'triggers = { "core.mail" = "*/2 * * * * *" }')
    text = text.replace('host = "127.0.0.1"\nport = 1', f'host = "127.0.0.1"\nport = {smtp.port}')
    settings_file.write_text(text)

    from core import db as core_db
    from core.boot import boot
    from core.notify import queue_mail
    from core.scheduler_models import JobRun

    serve = Serve(settings_file)
    settings, host = boot(str(settings_file))
    try:
        pids = await serve.ready()
        host_name = os.uname().nodename
        await core_db.init_db(settings, host)
        try:
            for i in range(3):
                await queue_mail(f"leader{i}@example.org", f"测试邮件 {i}", "正文", key=f"w-{i}")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                runs = await JobRun.filter(job_id="core.mail", manual=False).count()
                if len(received) >= 3 and runs >= 6:
                    break
                await asyncio.sleep(0.5)

            # A worker killed outright is replaced by the supervisor; the server answers on.
            victim = pids[0]
            os.kill(victim, signal.SIGKILL)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                now = workers_of(serve.proc.pid)
                if len(now) == 2 and victim not in now:
                    break
                await asyncio.sleep(0.3)
            replaced = workers_of(serve.proc.pid)
            assert len(replaced) == 2 and victim not in replaced, replaced
            await serve.ready()
            before = await JobRun.filter(job_id="core.mail", manual=False).count()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if await JobRun.filter(job_id="core.mail", manual=False).count() >= before + 3:
                    break
                await asyncio.sleep(0.5)
            for i in range(3, 5):
                await queue_mail(f"leader{i}@example.org", f"测试邮件 {i}", "正文", key=f"w-{i}")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(received) < 5:
                await asyncio.sleep(0.5)
            runs = await JobRun.filter(job_id="core.mail", manual=False).values_list(
                "scheduled_for", "instance", "status")
        finally:
            await core_db.close_db()
        code = serve.stop()
    finally:
        serve.stop()
        smtp.stop()
    assert sorted(e.rcpt_tos[0] for e in received) == [
        f"leader{i}@example.org" for i in range(5)]
    times = [t for t, _, _ in runs]
    # Both workers schedule every firing; no firing has two runs, and only workers ran them.
    assert len(times) >= 9 and len(times) == len(set(times))
    ran_by = {inst for _, inst, _ in runs}
    assert ran_by <= {f"{host_name}:{p}" for p in pids + replaced}, ran_by
    assert {s for _, _, s in runs} <= {"ok", "failed"}
    # SIGTERM: the parent stops its workers and exits cleanly; none is left behind.
    assert code == 0, serve.log.read_text(errors="replace")[-2000:]
    for pid in pids + replaced:
        assert not Path(f"/proc/{pid}").exists() or \
            Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


@pytest.mark.parametrize("counters", ["database", "redis"])
async def test_the_login_limit_holds_across_two_workers(db_url, tmp_path, counters):
    extra = ""
    if counters == "redis":
        import redis

        try:
            redis.Redis.from_url(REDIS_URL).ping()
        except redis.ConnectionError as exc:
            pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
        extra = f'redis_url = "{REDIS_URL}"'
    settings_file = write_settings(tmp_path, db_url)
    # A name of its own: the Redis keys of this run start with it.
    text = settings_file.read_text().replace(
        '[app]\nsecret_key = "test"', f'[app]\nsecret_key = "test"\nname = "kaohe-{uuid.uuid4().hex[:8]}"')
    text = text.replace("login_max_failures = 3", f"login_max_failures = 3\n{extra}")
    settings_file.write_text(text)
    r = kaohe(settings_file, "users", "create", "boss", "--role", "admin", "--password",
              "right-pass-1")
    assert r.returncode == 0, r.stderr
    serve = Serve(settings_file)
    try:
        pids = await serve.ready()
        by_pid = await serve.spread(pids, each=5)
        a, b = (by_pid[p][:5] for p in pids)
        # Ten wrong passwords at once, five through each worker: three may be checked.
        conns = [c for pair in zip(a, b, strict=True) for c in pair]
        assert {server_pid_of(c.local_port, serve.port, pids) for c in conns} == set(pids)
        wrong = await asyncio.gather(*(
            c.request("POST", "/login", form={"username": "boss", "password": f"wrong-{i}"})
            for i, c in enumerate(conns)))
        statuses = sorted(r.status for r in wrong)
        assert statuses == [401] * 3 + [429] * 7, statuses
        # The account is locked on both workers, even with the right password.
        for conn in (a[0], b[0]):
            r = await conn.request("POST", "/login", form={"username": "boss",
                                                          "password": "right-pass-1"})
            assert r.status == 429 and r.header("retry-after"), r.status
            assert "登录失败次数过多" in r.text
        for conns_ in by_pid.values():
            for c in conns_:
                await c.close()
    finally:
        serve.stop()


async def test_the_survey_address_limit_holds_across_two_workers(db_url, tmp_path):
    from tests.plugins.satisfaction.helpers import DEFINITION, OPEN_DAY, token_of

    settings_file = write_settings(tmp_path, db_url,
                                   "[satisfaction]\nrate_limit = 3\nbusy_address = 100\n")
    settings_file.write_text(settings_file.read_text().replace(
        "[app]\n", f'[app]\ntoday = "{OPEN_DAY}"\n'))
    definition = tmp_path / "definition.toml"
    definition.write_text(DEFINITION, encoding="utf-8")
    r = kaohe(settings_file, "assessments", "apply", str(definition))
    assert r.returncode == 0, r.stderr
    form = "/satisfaction/s/s2014/520102001"
    serve = Serve(settings_file)
    try:
        pids = await serve.ready()
        by_pid = await serve.spread(pids)
        # Eight phones behind one address, each with its own form, half on each worker.
        conns = [c for pair in zip(by_pid[pids[0]][:2] * 2, by_pid[pids[1]][:2] * 2,
                                   strict=True) for c in pair]
        forms = []
        for i, conn in enumerate(conns):
            conn.cookies.clear()  # a new device for every form
            page = await conn.request("GET", form)
            assert page.status == 200, page.text[:300]
            forms.append((conn, token_of(page.text), dict(conn.cookies), i))

        async def answer(conn: Connection, token: str, cookies: dict[str, str], i: int):
            conn.cookies = cookies
            return await conn.request("POST", form, form={"token": token, "q_overall": "1",
                                                          "q_safety": "1"})

        # Each connection sends its two answers one after the other; all connections at once.
        groups: dict[int, list] = {}
        for item in forms:
            groups.setdefault(id(item[0]), []).append(item)

        async def in_turn(items):
            return [await answer(*item) for item in items]

        replies = [r for rs in await asyncio.gather(*(in_turn(g) for g in groups.values()))
                   for r in rs]
        statuses = sorted(r.status for r in replies)
        assert statuses == [200] * 3 + [429] * 5, statuses
        for conns_ in by_pid.values():
            for c in conns_:
                await c.close()
    finally:
        serve.stop()

    from core import db as core_db
    from core.boot import boot
    from plugins.satisfaction.models import Response

    settings, host = boot(str(settings_file))
    await core_db.init_db(settings, host)
    try:
        assert await Response.all().count() == 3
    finally:
        await core_db.close_db()
