"""The plugin host: a third-party plugin installed with pip, broken and misspelt plugins, required
plugins, the plugin list, every hook's wiring, and the meta-test (every hook documented and tested).

The example plugin (tests/example_plugin, its own distribution) is installed with pip into a
virtual environment layered on this one (`--system-site-packages`): the same interpreter and
packages, but the install is visible only to the processes of this test. Installing it into the
shared site-packages would make every other test process on the machine load it mid-run.
"""

from __future__ import annotations

import importlib.metadata as md
import inspect
import io
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from core import hookspecs
from core.plugins import PluginError, PluginHost, get_host
from tests.browser import free_port, serving
from tests.conftest import login, make_user, seed_units, with_db, write_settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "tests" / "example_plugin"


# -- helpers ---------------------------------------------------------------------------------------

def kaohe(python: str, settings_path: Path, *args: str, env: dict | None = None,
          timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-m", "core", "--settings", str(settings_path), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def web_login(client: httpx.Client, username: str, password: str = "password1") -> str:
    r = client.post("/login", data={"username": username, "password": password})
    assert r.status_code in (302, 303), r.text
    return client.get("/api/me").json()["csrf"]


async def sql(query: str):
    from tortoise import Tortoise

    return await Tortoise.get_connection("default").execute_query_dict(query)


def fake_distribution(where: Path, name: str, source: str) -> Path:
    """A module plus a *.dist-info naming it in the `kaohe` entry-point group: what pip leaves."""
    module = f"kaohe_{name}"
    (where / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = where / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n",
                                   encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[kaohe]\n{name} = {module}\n", encoding="utf-8")
    return where


# -- the third-party example plugin -------------------------------------------------------------

@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> str:
    """A virtual environment derived from the one running the tests: it sees every package
    installed here (through a .pth that adds this environment's site folders, editable
    installs included) and keeps its own installs apart. `--system-site-packages` would layer
    it on the base interpreter instead, which has none of the project's dependencies."""
    import sysconfig

    where = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True,
                   timeout=120)
    python = str(where / "bin" / "python")
    target = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                            capture_output=True, text=True, check=True).stdout.strip()
    parents = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    Path(target, "_kaohe_parent_env.pth").write_text(
        "".join(f"import site; site.addsitedir({p!r})\n" for p in parents), encoding="utf-8")
    # The project itself (an editable install) and pip come from the environment below.
    for module in ("core", "pip", "setuptools", "wheel", "litestar"):
        probe = subprocess.run([python, "-c", f"import {module}"], cwd=tmp_path_factory.getbasetemp(),
                               capture_output=True, text=True)
        assert probe.returncode == 0, probe.stderr
    return python


def pip(python: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-m", "pip", *args, "--disable-pip-version-check"],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.once
def test_example_plugin_installs_works_and_uninstalls(venv, settings, tmp_path):
    """Installed with pip: model migrates, API answers, page renders with its nav item, job runs,
    exporter writes a workbook. Uninstalled: the platform still starts on the same database."""
    from python_calamine import CalamineWorkbook

    source = tmp_path / "example_src"  # build from a copy: pip leaves build/ and egg-info behind
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                                   "__pycache__"))
    cfg = settings.source
    installed = False
    try:
        r = pip(venv, "install", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                str(source))
        assert r.returncode == 0, r.stdout + r.stderr
        installed = True
        assert "kaohe_example" not in sys.modules  # nothing of it in this process

        r = kaohe(venv, cfg, "plugins")
        assert r.returncode == 0, r.stderr
        line = next(x for x in r.stdout.splitlines() if x.startswith("example "))
        assert "0.3.0 (kaohe-example)" in line
        for hook in ("tortoise_app", "pages", "api_routes", "nav_items", "jobs", "exporters",
                     "settings_schema", "messages", "template_dirs"):
            assert hook in line, line

        r = kaohe(venv, cfg, "migrate")
        assert r.returncode == 0 and "applied example.0001_initial" in r.stdout, r.stdout + r.stderr

        async def setup():
            await seed_units()
            await make_user("adm", "admin")
            await make_user("lead", "leader")
            return await sql("SELECT COUNT(*) AS n FROM example_note")

        assert with_db(settings, setup)[0]["n"] == 0  # the plugin's own table exists

        env = {"KAOHE_EXAMPLE__GREETING": "来自设置的问候"}  # its settings section, via env
        with serving(venv, cfg, env) as base, httpx.Client(base_url=base, timeout=30) as c:
            csrf = web_login(c, "adm")
            r = c.post("/api/example/notes", json={"text": "花果园社区党建台账", "unit": "520102"},
                       headers={"X-CSRF-Token": csrf})
            assert r.status_code == 201, r.text
            note_id = r.json()["id"]
            r = c.post("/api/example/notes", json={"text": "x", "unit": "000000"},
                       headers={"X-CSRF-Token": csrf})
            assert r.status_code == 404 and r.json()["error"]["field"] == "unit"
            r = c.get("/api/example/notes")
            assert [(n["id"], n["unit"], n["seen"]) for n in r.json()] == [(note_id, "520102", False)]
            page = c.get("/example", headers={"accept": "text/html"})
            assert page.status_code == 200
            assert "花果园社区党建台账" in page.text and "来自设置的问候" in page.text
            assert 'href="/example" data-nav="example.nav" class="active">示例插件</a>' in page.text
            plugins = {p["name"]: p for p in c.get("/api/plugins").json()}
            assert plugins["example"]["version"] == "0.3.0"
            assert plugins["example"]["distribution"] == "kaohe-example"
            # Each of these is shown working in this test (settings via the greeting); the
            # listener, the indicator source and the importer in tests/core/test_testing_kit.py.
            assert {"kaohe_settings_schema", "kaohe_tortoise_app", "kaohe_messages",
                    "kaohe_template_dirs", "kaohe_pages", "kaohe_api_routes", "kaohe_nav_items",
                    "kaohe_jobs", "kaohe_exporters", "kaohe_event", "kaohe_event_names",
                    "kaohe_indicator_sources", "kaohe_importers"} == set(
                        plugins["example"]["contributes"]["hooks"])
            c.cookies.clear()
            csrf = web_login(c, "lead")
            assert 'data-nav="example.nav"' in c.get("/").text
            r = c.post("/api/example/notes", json={"text": "no"}, headers={"X-CSRF-Token": csrf})
            assert r.status_code == 403  # leaders read only

        r = kaohe(venv, cfg, "jobs", "list")
        assert "example.mark_seen\t0 6 * * *" in r.stdout, r.stdout + r.stderr
        r = kaohe(venv, cfg, "jobs", "run", "example.mark_seen")
        assert r.returncode == 0 and ": ok " in r.stdout and '"marked_seen": 1' in r.stdout, r.stdout

        async def after_job():
            from core.audit import AuditEntry, verify

            seen = await sql(f"SELECT seen FROM example_note WHERE id = {note_id}")
            entry = await AuditEntry.get(action="example.note.seen", object_id=str(note_id))
            return bool(seen[0]["seen"]), entry, (await verify())[1]

        seen, entry, broken = with_db(settings, after_job)
        assert seen and entry.actor == "job:example.mark_seen" and broken is None
        assert entry.before == {"seen": False} and entry.after == {"seen": True}

        out = tmp_path / "notes.xlsx"
        r = kaohe(venv, cfg, "export", "example-notes", "-o", str(out))
        assert r.returncode == 0, r.stdout + r.stderr
        book = CalamineWorkbook.from_filelike(io.BytesIO(out.read_bytes()))
        rows = book.get_sheet_by_name("示例记录").to_python()
        assert rows[0][0] == "示例记录"
        assert rows[2] == ["编号", "单位", "内容", "已查看", "记录时间"]
        assert [int(rows[3][0]), rows[3][1], rows[3][2], int(rows[3][3])] == [
            note_id, "南明区", "花果园社区党建台账", 1]
    finally:
        if installed:
            r = pip(venv, "uninstall", "-y", "kaohe-example")
            assert r.returncode == 0, r.stdout + r.stderr

    # Gone: the platform starts cleanly on the same database, which still holds its table.
    r = kaohe(venv, cfg, "check-config")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "example" not in r.stdout.rsplit("plugins:", 1)[1].replace(",", " ").split()
    r = kaohe(venv, cfg, "plugins")
    assert r.returncode == 0 and not any(x.startswith("example ") for x in r.stdout.splitlines())
    r = kaohe(venv, cfg, "migrate")
    assert r.returncode == 0, r.stdout + r.stderr
    with serving(venv, cfg) as base, httpx.Client(base_url=base, timeout=30) as c:
        web_login(c, "adm")
        assert c.get("/").status_code == 200
        assert c.get("/example", headers={"accept": "application/json"}).status_code == 404
        assert "example" not in {p["name"] for p in c.get("/api/plugins").json()}


# -- bad plugins stop start-up, or not -------------------------------------------------------------

BROKEN = """
    import kaohe_no_such_dependency  # noqa: F401  (a plugin whose dependency is missing)
"""

MISSPELT = """
    from core.hookspecs import hookimpl

    @hookimpl
    def kaohe_pages():
        return []

    def kaohe_pagez():
        return []
"""


SQUATTER = """
    from core.contrib import IndicatorSource
    from core.hookspecs import hookimpl

    async def values(period_code, unit_codes):
        return {}

    @hookimpl
    def kaohe_indicator_sources():
        return [IndicatorSource(KEY, "x", "%", values)]
"""


@pytest.mark.parametrize("key, message", [
    ("org_rate", "kaohe: plugin 'squat': indicator key 'org_rate' must start with 'squat.'"),
    ("coverage.org_rate", "kaohe: plugin 'squat': indicator key 'coverage.org_rate' must start "
                          "with 'squat.'"),
])
def test_an_indicator_key_must_carry_its_plugins_name(settings, tmp_path, key, message):
    where = tmp_path / "site"
    where.mkdir()
    env = {"PYTHONPATH": str(fake_distribution(where, "squat",
                                               SQUATTER.replace("KEY", repr(key))))}
    r = kaohe(sys.executable, settings.source, "check-config", env=env, timeout=60)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.strip().splitlines()[-1] == message


def test_a_duplicate_indicator_key_is_refused_at_registration():
    import types

    from core.contrib import IndicatorSource
    from core.hookspecs import hookimpl
    from core.plugins import PluginError, PluginHost

    async def values(period_code, unit_codes):
        return {}

    def plugin(*keys):
        return types.SimpleNamespace(kaohe_indicator_sources=hookimpl(
            lambda: [IndicatorSource(k, "x", "%", values) for k in keys]))

    host = PluginHost()
    host.register("cov", plugin("cov.extra.rate", "cov.a"))
    with pytest.raises(PluginError, match="'twice.b' is listed twice"):
        host.register("twice", plugin("twice.b", "twice.b"))
    # a plugin whose name extends another's may not take that one's keys
    with pytest.raises(PluginError, match="'cov.extra.rate' is already provided by plugin 'cov'"):
        host.register("cov.extra", plugin("cov.extra.rate"))
    with pytest.raises(PluginError, match="must start with 'sneaky.'"):
        host.register("sneaky", plugin("cov.a"))
    assert set(host.plugins) == {"cov"} and host.pm.get_plugin("twice") is None
    assert [s.key for _, s in host.collect("kaohe_indicator_sources")] == ["cov.extra.rate",
                                                                           "cov.a"]


def test_plugin_that_fails_to_import_is_named_and_the_others_load(settings, tmp_path):
    (tmp_path / "site").mkdir()
    env = {"PYTHONPATH": str(fake_distribution(tmp_path / "site", "broken", BROKEN))}
    r = kaohe(sys.executable, settings.source, "plugins", env=env)
    assert r.returncode == 0, r.stderr
    assert ("broken  FAILED  ModuleNotFoundError: No module named 'kaohe_no_such_dependency'"
            in r.stdout)
    loaded = [line.split()[0] for line in r.stdout.splitlines() if "FAILED" not in line]
    assert set(loaded) == set(get_host().plugins)
    assert "plugin broken failed to import" in r.stderr  # logged too
    r = kaohe(sys.executable, settings.source, "check-config", env=env)
    assert r.returncode == 0, r.stderr

    cfg = write_settings(tmp_path / "req", settings.database.url,
                         '[plugins]\nrequired = ["broken"]\n')
    r = kaohe(sys.executable, cfg, "check-config", env=env)
    assert r.returncode == 2
    assert ("kaohe: required plugin 'broken' failed to import: ModuleNotFoundError: "
            "No module named 'kaohe_no_such_dependency'") in r.stderr.splitlines()


async def test_api_plugins_shows_a_broken_plugin_with_its_error(tmp_path, monkeypatch, db_url):
    where = tmp_path / "site"
    where.mkdir()
    fake_distribution(where, "broken", BROKEN)
    monkeypatch.syspath_prepend(str(where))
    from core.app import create_app, platform_lifespan
    from core.boot import boot

    settings, host = boot(str(write_settings(tmp_path, db_url)))
    assert "broken" in host.failed and "broken" not in host.plugins
    app = create_app(settings, host, run_scheduler=False)
    async with platform_lifespan(app):
        await make_user("adm", "admin")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://t") as c:
            await login(c, "adm")
            listed = {p["name"]: p for p in (await c.get("/api/plugins")).json()}
    assert "No module named 'kaohe_no_such_dependency'" in listed["broken"]["error"]
    assert set(listed) == set(host.plugins) | {"broken"}


def test_missing_required_plugin_stops_start_up_naming_it(settings, tmp_path):
    cfg = write_settings(tmp_path / "req", settings.database.url,
                         '[plugins]\nrequired = ["nosuch"]\n')
    for args in (["check-config"], ["serve", "--port", str(free_port())], ["migrate"]):
        r = kaohe(sys.executable, cfg, *args, timeout=60)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert r.stderr.strip().splitlines()[-1] == (
            "kaohe: required plugin 'nosuch' is not installed (entry point group 'kaohe')")


def test_misspelt_hook_stops_start_up_naming_it(settings, tmp_path):
    where = tmp_path / "site"
    where.mkdir()
    env = {"PYTHONPATH": str(fake_distribution(where, "typo", MISSPELT))}
    for args in (["check-config"], ["serve", "--port", str(free_port())]):
        r = kaohe(sys.executable, settings.source, *args, env=env, timeout=60)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert r.stderr.strip().splitlines()[-1] == (
            "kaohe: plugin 'typo': unknown hook implementation 'kaohe_pagez'")


def test_misspelt_hook_marked_as_hookimpl_is_caught_too():
    from core.hookspecs import hookimpl

    class Typo:
        @staticmethod
        @hookimpl
        def kaohe_nav_item():  # singular: not a hook
            return []

    with pytest.raises(PluginError, match="plugin 'typo': .*kaohe_nav_item"):
        PluginHost().register("typo", Typo)


# -- the plugin list -------------------------------------------------------------------------------

def _expected_plugins(settings) -> set[str]:
    disabled = set(settings.plugins.disabled)
    return {ep.name for ep in md.entry_points(group="kaohe")} - disabled


async def test_api_plugins_lists_every_loaded_plugin(client, settings):
    await make_user("adm", "admin")
    await login(client, "adm")
    listed = (await client.get("/api/plugins")).json()
    assert {p["name"] for p in listed} == _expected_plugins(settings)
    host = client.app.state.host
    for p in listed:
        assert p["version"] == md.version(p["distribution"])
        hooks = set(p["contributes"].get("hooks", []))
        expected = {h for h in dir(host.pm.hook) if h.startswith("kaohe_") and any(
            i.plugin_name == p["name"] for i in getattr(host.pm.hook, h).get_hookimpls())}
        assert hooks == expected


def test_cli_plugins_lists_every_loaded_plugin(settings):
    from core.cli import cli

    r = CliRunner().invoke(cli, ["--settings", str(settings.source), "plugins"])
    assert r.exit_code == 0, r.output
    names = {line.split()[0] for line in r.output.splitlines() if line.strip()}
    assert names == _expected_plugins(settings)


# -- every hook reaches the platform (a probe plugin registered in-process) ----------------------

def _probe_module(tmp_path: Path):
    """A plugin implementing the hooks the example plugin does not."""
    import types

    from core.contrib import DomainEvent, Importer, IndicatorSource, Panel
    from core.hookspecs import hookimpl

    (tmp_path / "probe").mkdir(exist_ok=True)
    (tmp_path / "probe" / "panel.html").write_text(
        '<div id="probe-panel">{{ panel.context.greeting }} {{ user.username }}</div>', "utf-8")
    seen: dict[str, list] = {"events": [], "applied": []}

    async def values(period, units):
        return {u: 1.5 for u in units}

    async def preview(data, ctx):
        return {"rows": len(data)}

    async def confirm(data, ctx):
        return {"rows": len(data)}

    m = types.ModuleType("probe_plugin")

    @hookimpl
    def kaohe_template_dirs():
        return [str(tmp_path)]

    @hookimpl
    async def kaohe_dashboard_panels(user):
        return [Panel("probe/panel.html", {"greeting": "探针面板"}, order=1)]

    @hookimpl
    async def kaohe_event(event: DomainEvent):
        seen["events"].append((event.name, event.key))

    @hookimpl
    def kaohe_indicator_sources():
        return [IndicatorSource("probe.rate", "探针指标", "%", values)]

    @hookimpl
    def kaohe_importers():
        return [Importer("probe-rows", "探针导入", preview, confirm)]

    @hookimpl
    def kaohe_cli_commands(cli):
        import click

        @cli.command("probe-hello")
        def probe_hello():
            """Say hello from the probe plugin."""
            click.echo("probe says hello")

    @hookimpl
    def kaohe_validate_assessment(section, definition):
        return [] if isinstance(section.get("weight"), int) else ["probe.weight: expected an integer"]

    @hookimpl
    async def kaohe_apply_assessment(section, definition):
        seen["applied"].append((section["weight"], definition.version))

    for name, value in list(locals().items()):
        if name.startswith("kaohe_"):
            setattr(m, name, value)
    return m, seen


@pytest.fixture
def probed(tmp_path, db_url):
    from core.boot import boot

    module, seen = _probe_module(tmp_path)
    settings, host = boot(str(write_settings(tmp_path / "cfg", db_url)),
                          extra_plugins={"probe": module})
    return settings, host, seen


async def test_probe_hooks_reach_the_platform(probed):
    import click

    from core import assessments
    from core.app import create_app, platform_lifespan
    from core.contrib import DomainEvent

    settings, host, seen = probed
    # kaohe_indicator_sources and kaohe_importers: collected with the plugin's name.
    sources = dict((s.key, (p, s)) for p, s in host.collect("kaohe_indicator_sources"))
    assert sources["probe.rate"][0] == "probe"
    assert await sources["probe.rate"][1].values("2014", ["520102"]) == {"520102": 1.5}
    importers = [(p, i.name) for p, i in host.collect("kaohe_importers")]
    assert ("probe", "probe-rows") in importers
    # kaohe_cli_commands: the command joins the group.
    group = click.Group("kaohe")
    host.pm.hook.kaohe_cli_commands(cli=group)
    assert CliRunner().invoke(group, ["probe-hello"]).output == "probe says hello\n"
    # kaohe_validate_assessment / kaohe_apply_assessment: through the definition path.
    base = '[assessment]\nslug = "p"\ntitle = "探针"\nyear = 2014\n'
    with pytest.raises(assessments.DefinitionError) as err:
        assessments.parse(base + '[probe]\nweight = "heavy"\n', host)
    assert err.value.errors == ["probe.weight: expected an integer"]
    app = create_app(settings, host, run_scheduler=False)
    async with platform_lifespan(app):
        # kaohe_event: stored and delivered by core.events, async listeners awaited.
        from core import events

        report = await events.publish(DomainEvent("probe.ping", "probe.ping:1", {}, "probe"))
        assert seen["events"] == [("probe.ping", "probe.ping:1")] and not report.failed
        row, changed = await assessments.apply(base + "[probe]\nweight = 3\n", host)
        assert changed and seen["applied"] == [(3, row.version)]
        # kaohe_dashboard_panels: rendered on the dashboard with the user.
        await make_user("adm", "admin")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://t") as c:
            await login(c, "adm")
            page = (await c.get("/")).text
    assert '<div id="probe-panel">探针面板 adm</div>' in page
    hooks = set(next(p for p in host.describe() if p.name == "probe").contributes["hooks"])
    assert {"kaohe_dashboard_panels", "kaohe_event", "kaohe_indicator_sources", "kaohe_importers",
            "kaohe_cli_commands", "kaohe_validate_assessment", "kaohe_apply_assessment",
            "kaohe_template_dirs"} <= hooks


# -- the meta-test ---------------------------------------------------------------------------------

def test_every_hook_is_documented_and_tested():
    """A hook without a docstring, a `## name` section in docs/plugins.md or a test fails here.

    "Tested" means named in some test module (tests/**/test_*.py or conftest.py), not counting
    this function itself nor the example plugin's source (naming a hook there tests nothing).
    """
    hooks = {name: fn for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
             if name.startswith("kaohe_") and hasattr(fn, "kaohe_spec")}
    assert len(hooks) >= 10
    docs = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    sections = set(re.findall(r"^## (kaohe_\w+)\s*$", docs, re.M))
    me = inspect.getsource(test_every_hook_is_documented_and_tested)
    corpus = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if "example_plugin" in path.parts or not (path.name.startswith("test_")
                                                  or path.name == "conftest.py"):
            continue
        text = path.read_text(encoding="utf-8")
        corpus.append(text.replace(me, "") if path == Path(__file__) else text)
    tests_text = "\n".join(corpus)
    problems = []
    for name, fn in sorted(hooks.items()):
        if not (fn.__doc__ or "").strip():
            problems.append(f"{name}: no docstring in core/hookspecs.py")
        if name not in sections:
            problems.append(f"{name}: no '## {name}' section in docs/plugins.md")
        if not re.search(rf"\b{name}\b", tests_text):
            problems.append(f"{name}: no test names it")
    problems += [f"{name}: documented in docs/plugins.md but not a hook"
                 for name in sorted(sections - set(hooks))]
    assert problems == []
