"""Core's one import flow (core.import_flow, core.import_routes, core.import_cli), driven
through the example third-party plugin's importer, which has no route code of its own.

Named to run after test_plugins, whose install test wants the example plugin not imported yet
in this process (a second import of its models would clash in Tortoise)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from core.contrib import Importer, ImportField
from core.testing import running_platform

HTML = {"accept": "text/html"}


def _book(rows: list[tuple[str, str]], header=("单位代码", "内容")) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(list(header))
    for row in rows:
        ws.append(list(row))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _token(html: str) -> str:
    return html.split('name="token" value="', 1)[1].split('"', 1)[0]


async def test_upload_preview_confirm_on_the_page(tmp_path, example):
    from kaohe_example.models import Note

    async with running_platform(tmp_path, plugins={"example": example}) as kaohe:
        await kaohe.units()
        admin = await kaohe.login_as("admin")
        listed = await admin.get("/imports", headers=HTML)
        assert 'data-importer="example-notes"' in listed.text and "批量导入记录" in listed.text
        form = await admin.get("/imports/example-notes", headers=HTML)
        assert form.status_code == 200 and "导入后标为已查看" in form.text

        blank = await admin.get("/imports/example-notes/template")
        assert blank.status_code == 200 and "example-notes.xlsx" in blank.headers[
            "content-disposition"]
        sheet = CalamineWorkbook.from_filelike(io.BytesIO(blank.content))
        assert any("单位代码" in map(str, row) for row in
                   sheet.get_sheet_by_index(0).to_python())

        # no file: the form again, the message beside the file, the choice kept
        none = await admin.post("/imports/example-notes", headers=HTML,
                                data={"_csrf": admin.csrf, "seen": "1"},
                                files={"file": ("", b"", "application/octet-stream")})
        assert none.status_code == 422 and 'id="err-file"' in none.text
        assert "请选择" in none.text or "上传" in none.text
        assert 'name="seen" value="1" checked' in none.text

        # a refused row: preview shows it, no confirm button, the marked workbook names it
        bad = await admin.post("/imports/example-notes", headers=HTML,
                               data={"_csrf": admin.csrf},
                               files={"file": ("notes.xlsx", _book([("520102", "好"),
                                                                    ("999999", "坏")]))})
        assert bad.status_code == 200 and 'id="upload-errors"' in bad.text
        assert "999999" in bad.text and 'id="confirm-form"' not in bad.text
        marked_path = bad.text.split('id="download-marked" href="', 1)[1].split('"', 1)[0]
        marked = await admin.get(marked_path)
        assert marked.status_code == 200
        cells = openpyxl.load_workbook(io.BytesIO(marked.content)).active
        assert cells["A3"].comment is not None and "999999" in cells["A3"].comment.text

        good = await admin.post("/imports/example-notes", headers=HTML,
                                data={"_csrf": admin.csrf, "seen": "1"},
                                files={"file": ("notes.xlsx", _book([("520102", "路灯修好"),
                                                                     ("520103001", "楼道清理")]))})
        assert good.status_code == 200 and 'id="confirm-form"' in good.text
        token = _token(good.text)
        assert await Note.all().count() == 0  # nothing saved before confirming

        # someone else cannot confirm it
        other = await kaohe.login_as("admin")
        theirs = await other.post("/imports/example-notes/confirm", headers=HTML,
                                  data={"_csrf": other.csrf, "token": token})
        assert theirs.status_code == 404 and await Note.all().count() == 0

        done = await admin.post("/imports/example-notes/confirm", headers=HTML,
                                data={"_csrf": admin.csrf, "token": token})
        assert done.status_code in (302, 303)
        assert done.headers["location"].startswith("/example?msg=")
        notes = await Note.all().order_by("id").values_list("text", "seen")
        assert notes == [("路灯修好", True), ("楼道清理", True)]

        again = await admin.post("/imports/example-notes/confirm", headers=HTML,
                                 data={"_csrf": admin.csrf, "token": token})
        assert again.status_code == 409 and "已经确认过" in again.text
        assert await Note.all().count() == 2


async def test_roles_and_cancel(tmp_path, example):
    from kaohe_example.models import Note

    async with running_platform(tmp_path, plugins={"example": example}) as kaohe:
        await kaohe.units()
        leader = await kaohe.login_as("leader")
        assert (await leader.get("/imports/example-notes", headers=HTML)).status_code == 403
        assert "example-notes" not in (await leader.get("/imports", headers=HTML)).text
        admin = await kaohe.login_as("admin")
        assert (await admin.get("/imports/nope", headers=HTML)).status_code == 404
        staged = await admin.post("/imports/example-notes", headers=HTML,
                                  data={"_csrf": admin.csrf},
                                  files={"file": ("n.xlsx", _book([("520102", "一")]))})
        token = _token(staged.text)
        gone = await admin.post("/imports/example-notes/cancel", headers=HTML,
                                data={"_csrf": admin.csrf, "token": token})
        assert gone.status_code in (302, 303) and "msg=" in gone.headers["location"]
        late = await admin.post("/imports/example-notes/confirm", headers=HTML,
                                data={"_csrf": admin.csrf, "token": token})
        assert late.status_code == 409 and await Note.all().count() == 0


async def test_the_api_previews_and_confirms_in_english(tmp_path, example):
    from kaohe_example.models import Note

    async with running_platform(tmp_path, plugins={"example": example}) as kaohe:
        await kaohe.units()
        admin = await kaohe.login_as("admin", lang="en")
        h = {"X-CSRF-Token": admin.csrf}
        listed = (await admin.get("/api/imports")).json()
        assert isinstance(listed, list), listed
        mine = next(i for i in listed if i["name"] == "example-notes")
        assert mine["title"] == "Import notes" and mine["fields"][0]["name"] == "seen"
        up = await admin.post("/api/imports/example-notes?seen=0", headers=h,
                              files={"file": ("n.xlsx", _book([("520102", "一"),
                                                               ("x", "二")]))})
        assert up.status_code == 200, up.text
        body = up.json()
        assert body["create"] == 1 and len(body["errors"]) == 1
        assert body["errors"][0]["row"] == 3 and body["marked"]
        refused = await admin.post(f"/api/imports/example-notes/{body['token']}/confirm",
                                   headers=h)
        assert refused.status_code == 422 and await Note.all().count() == 0
        up = await admin.post("/api/imports/example-notes", headers=h,
                              files={"file": ("n.xlsx", _book([("520102", "一")]))})
        ok = await admin.post(f"/api/imports/example-notes/{up.json()['token']}/confirm",
                              headers=h)
        assert ok.status_code == 200 and ok.json() == {"message": "1 notes imported",
                                                        "result": {"created": 1}}
        missing = await admin.post("/api/imports/example-notes", headers=h)
        assert missing.status_code == 400


async def test_fields_are_checked_and_named(tmp_path, example):
    from core import import_flow
    from core.errors import FieldsInvalid

    async def periods(ctx):
        return [("2014", "2014 年"), ("2013", "2013 年")]

    async def nothing(data, ctx):
        return None

    imp = Importer("t", "t", nothing, nothing, fields=(
        ImportField("period", "common.period", kind="choice", required=True, choices=periods),
        ImportField("note", "common.reason", max_length=5)))
    ctx = import_flow.ImportContext(user=None, lang="zh")
    assert await import_flow.check_fields(imp, {"period": "2014", "x": "y"}, ctx) == {
        "period": "2014", "note": ""}
    with pytest.raises(FieldsInvalid) as refused:
        await import_flow.check_fields(imp, {"period": "2099", "note": "长长长长长长"}, ctx)
    assert refused.value.errors == {"period": "考核期“2099”不是可选的取值",
                                    "note": "原因最多 5 个字符"}
    with pytest.raises(FieldsInvalid) as refused:
        await import_flow.check_fields(imp, {}, ctx)
    assert refused.value.errors == {"period": "请填写考核期"}


def test_kaohe_import_on_the_command_line(tmp_path):
    """The example plugin installed as a distribution is not needed: a built-in importer shows
    the generated command; here the rectification importer, which has no command of its own."""
    kaohe = str(Path(sys.executable).with_name("kaohe"))
    settings = tmp_path / "settings.toml"
    from tests.conftest import write_settings

    write_settings(tmp_path, f"sqlite://{tmp_path / 'k.sqlite3'}")
    assert settings.exists()
    run = subprocess.run([kaohe, "--settings", str(settings), "import", "--help"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "rectification-tasks" in run.stdout
    run = subprocess.run([kaohe, "--settings", str(settings), "import", "rectification-tasks",
                          "--help"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "--user" in run.stdout and "--dry-run" in run.stdout


async def test_an_overlong_or_forged_token_is_not_found(tmp_path, example):
    async with running_platform(tmp_path, plugins={"example": example}) as kaohe:
        admin = await kaohe.login_as("admin")
        page = await admin.post("/imports/example-notes/confirm", headers=HTML,
                                data={"_csrf": admin.csrf, "token": "0" * 500})
        assert page.status_code == 404 and "找不到这次上传" in page.text
        api = await admin.post("/api/imports/example-notes/" + "0" * 64 + "/confirm",
                               headers={"X-CSRF-Token": admin.csrf})
        assert api.status_code == 404
        too_long = await admin.post("/api/imports/example-notes/" + "0" * 65 + "/confirm",
                                    headers={"X-CSRF-Token": admin.csrf})
        assert too_long.status_code == 400
