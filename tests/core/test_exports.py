"""Exports and the report archive: registry, roles and scope, download, archive with SHA-256,
the archive pages, and `kaohe export` with an exporter from a tiny test plugin."""

from __future__ import annotations

import asyncio
import hashlib
import io
import types
from pathlib import Path

import pytest
from click.testing import CliRunner
from python_calamine import CalamineWorkbook

from core import archive, exports
from core.contrib import Exporter, ExportRequest
from core.errors import Forbidden, Invalid, NotFound
from core.hookspecs import hookimpl
from core.xlsx import Column, WorkbookBuilder
from tests.conftest import login, make_user, seed_units

NAME = "testkit-units"
CALLS: list[ExportRequest] = []


async def build_units(req: ExportRequest) -> bytes:
    from core.orgs import OrgUnit

    CALLS.append(req)
    qs = OrgUnit.all().order_by("code")
    if req.unit:
        root = await OrgUnit.get(code=req.unit)
        qs = qs.filter(path__startswith=root.path)
    rows = [{"code": u.code, "name": u.name, "households": u.households} async for u in qs]
    wb = WorkbookBuilder()
    wb.add_table(sheet="单位", title="单位名单", subtitle=f"考核期 {req.period}",
                 columns=[Column("code", "单位代码"), Column("name", "单位名称"),
                          Column("households", "户数", kind="int")], rows=rows)
    return wb.to_bytes()


async def build_nothing(req: ExportRequest) -> bytes:
    return b"not a workbook"


def make_plugin(*extra: Exporter) -> types.ModuleType:
    plugin = types.ModuleType("testkit")

    @hookimpl
    def kaohe_exporters():
        return [Exporter(NAME, "测试单位名单", build_units,
                         roles=("admin", "leader", "unit_officer")),
                Exporter("testkit-any", "不需考核期", build_units, roles=("admin",),
                         needs_period=False),
                Exporter("testkit-broken", "坏的", build_nothing, roles=("admin",)), *extra]

    plugin.kaohe_exporters = kaohe_exporters
    return plugin


@pytest.fixture
def plugged(host):
    host.register("testkit", make_plugin())
    CALLS.clear()
    return host


def cells(data: bytes) -> list[list]:
    return CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()


# -- registry and build_export ----------------------------------------------------------------
async def test_registry_unknown_and_duplicate_names(db, plugged):
    known = exports.exporters(plugged)
    assert {NAME, "testkit-any", "testkit-broken"} <= set(known)
    assert known[NAME][0] == "testkit"
    with pytest.raises(NotFound) as info:
        exports.get_exporter("testkit-nope", plugged)
    assert info.value.code == "unknown_exporter"
    assert "testkit-nope" in info.value.message and NAME in info.value.message
    dup = types.ModuleType("dup")
    dup.kaohe_exporters = hookimpl(lambda: [Exporter(NAME, "又一个", build_units)])
    plugged.register("dup", dup)
    with pytest.raises(exports.ExportRegistryError, match="both 'dup' and 'testkit'"):
        exports.exporters(plugged)


async def test_build_export_checks_roles_period_and_unit_scope(db, plugged):
    await seed_units()
    admin = await make_user("ad", "admin")
    leader = await make_user("ld", "leader")
    instructor = await make_user("ins", "instructor")
    officer = await make_user("uo", "unit_officer", unit_code="520102")

    data = await exports.build_export(NAME, ExportRequest(period="2014"), user=leader)
    assert [r[0] for r in cells(data)[3:]] == ["520100", "520102", "520102001", "520103",
                                               "520103001"]
    with pytest.raises(Forbidden) as info:
        await exports.build_export(NAME, ExportRequest(period="2014"), user=instructor)
    assert info.value.code == "forbidden" and "instructor" in info.value.message
    with pytest.raises(Invalid) as info:
        await exports.build_export(NAME, ExportRequest(), user=admin)
    assert info.value.code == "period_required" and info.value.field == "period"
    with pytest.raises(NotFound) as info:
        await exports.build_export(NAME, ExportRequest(period="2099"), user=admin)
    assert info.value.code == "unknown_period"
    with pytest.raises(NotFound) as info:
        await exports.build_export(NAME, ExportRequest(period="2014", unit="999"), user=admin)
    assert info.value.field == "unit"
    # A unit officer gets their own subtree, whatever they asked for within it.
    data = await exports.build_export(NAME, ExportRequest(period="2014"), user=officer)
    assert [r[0] for r in cells(data)[3:]] == ["520102", "520102001"]
    assert CALLS[-1].unit == "520102" and CALLS[-1].options["role"] == "unit_officer"
    with pytest.raises(Forbidden, match="520103"):
        await exports.build_export(NAME, ExportRequest(period="2014", unit="520103"), user=officer)
    # The CLI and jobs pass no user; a closed period can still be exported (read only).
    data = await exports.build_export(NAME, ExportRequest(period="2013", unit="520103"))
    assert [r[0] for r in cells(data)[3:]] == ["520103", "520103001"]
    assert await exports.build_export("testkit-any", ExportRequest(), user=admin)
    with pytest.raises(exports.ExportRegistryError, match="did not return .xlsx"):
        await exports.build_export("testkit-broken", ExportRequest(period="2014"), user=admin)


async def test_archive_export_stores_file_with_sha_and_audit(db, plugged, settings):
    from core.audit import AuditEntry

    await seed_units()
    req = ExportRequest(period="2014", unit="520102", group="A")
    data = await exports.build_export(NAME, req)
    row = await exports.archive_export(NAME, req, data, created_by="tester", settings=settings)
    assert row.sha256 == hashlib.sha256(data).hexdigest() and row.size == len(data)
    assert row.roles == ["admin", "leader", "unit_officer"]
    assert (row.period, row.unit, row.group, row.created_by) == ("2014", "520102", "A", "tester")
    path = archive.file_path(settings, row)
    assert path.read_bytes() == data
    assert Path(settings.path(settings.storage.reports_dir)).resolve() in path.parents
    assert row.filename.startswith("测试单位名单_2014_520102_A_") and row.filename.endswith(".xlsx")
    entry = await AuditEntry.filter(action="archive.create").first()
    assert entry.object_id == str(row.id) and entry.after["sha256"] == row.sha256
    with pytest.raises(RuntimeError, match="settings"):
        await exports.archive_export(NAME, req, data, created_by="x")


# -- routes -----------------------------------------------------------------------------------
async def _users():
    await seed_units()
    for name, role, unit in (("ad", "admin", None), ("ld", "leader", None),
                             ("ins", "instructor", None), ("uo", "unit_officer", "520102"),
                             ("uo3", "unit_officer", "520103")):
        await make_user(name, role, unit_code=unit)


async def test_download_route_enforces_exporter_roles(client, plugged):
    await _users()
    await login(client, "ld")
    r = await client.get(f"/exports/{NAME}", params={"period": "2014"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    values = cells(r.content)
    assert values[0][0] == "单位名单" and values[2] == ["单位代码", "单位名称", "户数"]
    assert values[3][:2] == ["520100", "贵阳市"]
    r = await client.get("/exports/testkit-nope", params={"period": "2014"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_exporter"
    r = await client.get(f"/exports/{NAME}")
    assert r.status_code == 422 and r.json()["error"]["field"] == "period"
    r = await client.get("/api/exports")
    assert {e["name"] for e in r.json()} >= {NAME} and "testkit-any" not in {
        e["name"] for e in r.json()}

    client.cookies.clear()
    await login(client, "ins")
    r = await client.get(f"/exports/{NAME}", params={"period": "2014"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = await client.get(f"/exports/{NAME}", params={"period": "2014"},
                         headers={"accept": "text/html"})
    assert r.status_code == 403 and "instructor" in r.text

    client.cookies.clear()
    await login(client, "uo")
    r = await client.get(f"/exports/{NAME}", params={"period": "2014", "unit": "520103"})
    assert r.status_code == 403
    r = await client.get(f"/exports/{NAME}", params={"period": "2014"})
    assert [row[0] for row in cells(r.content)[3:]] == ["520102", "520102001"]


async def test_archive_create_list_download_and_tamper(client, plugged, settings):
    from core.audit import AuditEntry

    await _users()
    csrf = await login(client, "ad")
    r = await client.post(f"/exports/{NAME}/archive", data={"period": "2014", "_csrf": csrf})
    assert r.status_code == 201, r.text
    city = r.json()
    r = await client.post(f"/exports/{NAME}/archive", json={"period": "2014", "unit": "520103"},
                          headers={"X-CSRF-Token": csrf})
    district = r.json()
    assert district["unit"] == "520103" and district["download"] == f"/archive/{district['id']}/download"
    r = await client.post(f"/exports/{NAME}/archive", data={"period": "2014"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    r = await client.post(f"/exports/{NAME}/archive", data={"period": "2014", "_csrf": csrf},
                          headers={"accept": "text/html"})
    assert r.status_code in (302, 303) and r.headers["location"].startswith("/archive?msg=")
    third = (await client.get("/api/archive")).json()[0]

    r = await client.get(city["download"])
    assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == city["sha256"]
    assert r.headers["x-content-sha256"] == city["sha256"]
    assert cells(r.content)[3][0] == "520100"
    page = await client.get("/archive", headers={"accept": "text/html"})
    assert page.status_code == 200 and f'data-report="{city["id"]}"' in page.text
    assert f'action="/exports/{NAME}"' in page.text and "/archive" in page.text

    client.cookies.clear()
    await login(client, "ld")  # leaders read every report their role allows, and cannot create
    assert {r["id"] for r in (await client.get("/api/archive")).json()} == {
        city["id"], district["id"], third["id"]}
    assert (await client.get(district["download"])).status_code == 200
    r = await client.post(f"/exports/{NAME}/archive", data={"period": "2014"})
    assert r.status_code == 403

    client.cookies.clear()
    await login(client, "uo")  # 520102: the city report yes, 520103's no
    assert {r["id"] for r in (await client.get("/api/archive")).json()} == {city["id"], third["id"]}
    r = await client.get(district["download"])
    assert r.status_code == 403 and "outside your scope" in r.json()["error"]["message"]

    client.cookies.clear()
    await login(client, "uo3")
    assert (await client.get(district["download"])).status_code == 200

    client.cookies.clear()
    await login(client, "ins")  # the exporter's roles do not include instructors
    assert (await client.get("/api/archive")).json() == []
    r = await client.get(city["download"])
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    page = await client.get("/archive", headers={"accept": "text/html"})
    assert page.status_code == 200 and 'id="archive-empty"' in page.text
    assert (await client.get("/archive/999999/download")).status_code == 404

    # A file altered on disk is refused, and the refusal is audited.
    client.cookies.clear()
    await login(client, "ad")
    row = await archive.ReportFile.get(id=city["id"])
    path = archive.file_path(settings, row)
    path.write_bytes(path.read_bytes() + b"x")
    r = await client.get(city["download"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "report_tampered"
    assert await AuditEntry.filter(action="archive.tamper_detected",
                                   object_id=str(city["id"])).exists()
    path.unlink()
    r = await client.get(city["download"])
    assert r.status_code == 404 and r.json()["error"]["code"] == "report_missing"


# -- CLI --------------------------------------------------------------------------------------
def test_export_cli(settings, tmp_path, monkeypatch):
    from core import boot as boot_mod
    from core import cli as cli_mod
    from core.commands import register_core_commands

    def boot_with_plugin(path=None):
        s, h = boot_mod.boot(path)
        h.register("testkit", make_plugin())
        return s, h

    monkeypatch.setattr(cli_mod, "boot", boot_with_plugin)
    if "export" not in cli_mod.cli.commands:
        register_core_commands(cli_mod.cli)
    settings_file = str(settings.source)

    async def seed():
        from core import db

        config_settings, host = boot_mod.boot(settings_file)
        await db.init_db(config_settings, host)
        try:
            await seed_units()
        finally:
            await db.close_db()

    asyncio.run(seed())
    runner = CliRunner()
    out = tmp_path / "units.xlsx"
    result = runner.invoke(cli_mod.cli, ["--settings", settings_file, "export", NAME,
                                         "--period", "2014", "--unit", "520102", "-o", str(out),
                                         "--archive"])
    assert result.exit_code == 0, result.output
    assert [r[0] for r in cells(out.read_bytes())[3:]] == ["520102", "520102001"]
    sha = hashlib.sha256(out.read_bytes()).hexdigest()
    assert f"sha256 {sha}" in result.output
    stored = list((Path(settings.path(settings.storage.reports_dir))).rglob("*.xlsx"))
    assert len(stored) == 1 and stored[0].read_bytes() == out.read_bytes()

    result = runner.invoke(cli_mod.cli, ["--settings", settings_file, "export", "--list"])
    assert result.exit_code == 0 and NAME in result.output and "测试单位名单" in result.output

    bad = runner.invoke(cli_mod.cli, ["--settings", settings_file, "export", "testkit-nope",
                                      "--period", "2014", "-o", str(tmp_path / "x.xlsx")])
    assert bad.exit_code == 2 and "testkit-nope" in bad.output and NAME in bad.output
    bad = runner.invoke(cli_mod.cli, ["--settings", settings_file, "export", NAME,
                                      "-o", str(tmp_path / "x.xlsx")])
    assert bad.exit_code == 2 and "period" in bad.output
    bad = runner.invoke(cli_mod.cli, ["--settings", settings_file, "export", NAME,
                                      "--period", "2014", "-o", str(tmp_path / "x.csv")])
    assert bad.exit_code == 2 and "must end with .xlsx" in bad.output
    assert not (tmp_path / "x.xlsx").exists()
    helptext = runner.invoke(cli_mod.cli, ["--help"]).output
    line = next(ln for ln in helptext.splitlines() if ln.strip().startswith("export"))
    assert "Build a named workbook (.xlsx) or document (.docx)" in line
