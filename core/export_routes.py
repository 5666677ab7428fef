"""Routes of exports and the report archive.

A route's roles are static, so every route here admits all four roles and the exporter's
(or the archived report's) own roles are enforced inside, answering 403 `forbidden`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import File, Redirect, Template

from core import archive, clock, exports, web
from core.contrib import EXPORT_KINDS, ExportRequest
from core.errors import Invalid
from core.params import Id, PeriodCode, Slug, UnitCode
from core.security import current_user

ANY_ROLE = ("admin", "instructor", "unit_officer", "leader")


def _request(request: Request, period: str | None, unit: str | None, group: str | None,
             options: dict[str, Any] | None = None) -> ExportRequest:
    return ExportRequest(period=period or None, unit=unit or None, group=group or None,
                         lang=web.language(request), options=options or {})


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


@get("/api/exports", opt={"roles": ANY_ROLE}, tags=["platform"])
async def api_exports(request: Request) -> list[dict[str, Any]]:
    """The named workbooks the caller's role may build."""
    role = current_user(request).role
    return [{"name": name, "title": exp.title, "plugin": plugin, "roles": list(exp.roles),
             "needs_period": exp.needs_period, "kind": exp.kind, "download": f"/exports/{name}"}
            for name, (plugin, exp) in exports.exporters().items() if role in exp.roles]


@get("/exports/{name:str}", opt={"roles": ANY_ROLE}, tags=["platform"],
     media_type=EXPORT_KINDS["workbook"][1])  # a document exporter answers .docx
async def export_download(request: Request, name: FromPath[str],
                          period: PeriodCode = None, unit: UnitCode = None,
                          group: Slug = None) -> Response:
    """Build a named workbook and download it (the exporter's roles apply)."""
    exporter, req = await exports.prepare(name, _request(request, period, unit, group),
                                          current_user(request))
    data = await exports._build(exporter, req)
    name_of_group = await exports.group_name(exporter, req)
    return web.download(data, exports.default_filename(exporter, req, name_of_group),
                        exporter.media_type)


@post("/exports/{name:str}/archive", opt={"roles": ("admin", "instructor", "unit_officer")},
      tags=["platform"], status_code=201)
async def export_archive(request: Request, name: FromPath[str]) -> Any:
    """Build a named workbook and store it in the report archive (form or JSON fields
    period, unit, group)."""
    fields: dict[str, Any] = dict(request.query_params)
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        fields.update({k: v for k, v in (await request.form()).items() if k != "_csrf"})
    elif ctype.startswith("application/json"):
        body = await request.json()
        if not isinstance(body, dict):
            raise Invalid("invalid_body", "expected a JSON object with period, unit, group")
        fields.update(body)
    user = current_user(request)
    exporter, req = await exports.prepare(
        name, _request(request, fields.get("period"), fields.get("unit"), fields.get("group")),
        user)
    data = await exports._build(exporter, req)
    row = await exports.archive_export(name, req, data, created_by=user.username,
                                       settings=request.app.state.settings)
    if _wants_html(request):
        return Redirect(path=f"/archive?msg={quote(row.title)}")
    return archive.as_dict(row)


@get("/archive", opt={"roles": ANY_ROLE}, include_in_schema=False)
async def archive_page(request: Request, exporter: Slug = "",
                       period: PeriodCode = "") -> Template:
    from core.orgs import Period

    user = current_user(request)
    rows = await archive.visible_reports(user, exporter=exporter, period=period)
    buildable = [(name, exp) for name, (_, exp) in exports.exporters().items()
                 if user.role in exp.roles]
    periods = await Period.all().order_by("-start").values_list("code", flat=True)
    return web.page(request, "archive.html", rows=rows, buildable=buildable, periods=periods,
                    exporter=exporter, period=period, local=_local)


def _local(moment: Any) -> str:

    return moment.astimezone(clock.tz()).strftime("%Y-%m-%d %H:%M")


@get("/archive/{report_id:int}/download", opt={"roles": ANY_ROLE}, include_in_schema=False)
async def archive_download(request: Request, report_id: Id) -> File:
    """Stream an archived file after checking the caller may see it and its SHA-256."""
    report = await archive.get_visible(current_user(request), report_id)
    path = await archive.verified_path(request.app.state.settings, report, web.language(request))
    return File(path=path, filename=report.filename, media_type=archive.media_type(report),
                headers={"Cache-Control": "no-store", "X-Content-SHA256": report.sha256})


@get("/api/archive", opt={"roles": ANY_ROLE}, tags=["platform"])
async def api_archive(request: Request, exporter: Slug = "",
                      period: PeriodCode = "") -> list[dict[str, Any]]:
    """Archived reports the caller may download, newest first."""
    rows = await archive.visible_reports(current_user(request), exporter=exporter, period=period)
    return [archive.as_dict(r) for r in rows]


HANDLERS = [api_exports, export_download, export_archive, archive_page, archive_download,
            api_archive]
