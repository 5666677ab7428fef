"""Routes of exports and the report archive.

A route's roles are static, so every route here admits all four roles and the exporter's
(or the archived report's) own roles are enforced inside, answering 403 `forbidden`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import msgspec
from litestar import Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath
from litestar.response import File, Redirect, Template

from core import archive, clock, exports, i18n, web
from core.contrib import EXPORT_KINDS, ExportRequest
from core.errors import Invalid
from core.paging import DEFAULT_SIZE, Paged, clamp
from core.params import Id, PageNo, PageSize, PeriodCode, Search, Slug, UnitCode
from core.roles import ADMIN_OFFICER_INSTRUCTOR, ALL
from core.security import current_user

ANY_ROLE = ALL


def _request(request: Request, period: str | None, unit: str | None, group: str | None,
             options: dict[str, Any] | None = None) -> ExportRequest:
    return ExportRequest(period=period or None, unit=unit or None, group=group or None,
                         lang=web.language(request), options=options or {})


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


class ExporterOut(msgspec.Struct):
    """A named workbook or document the caller may build."""
    name: str
    title: str
    plugin: str
    roles: list[str]
    needs_period: bool
    kind: str  # workbook or document
    download: str  # path that builds and downloads it


@get("/api/exports", opt={"roles": ANY_ROLE}, tags=["platform"])
async def api_exports(request: Request) -> list[ExporterOut]:
    """The named workbooks the caller's role may build."""
    role = current_user(request).role
    return [ExporterOut(name=name, title=exp.title, plugin=plugin, roles=list(exp.roles),
                        needs_period=exp.needs_period, kind=exp.kind,
                        download=f"/exports/{name}")
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


@post("/exports/{name:str}/archive", opt={"roles": ADMIN_OFFICER_INSTRUCTOR},
      tags=["platform"], status_code=201,
      # a form post is redirected to the archive page; a JSON caller gets the stored file
      responses={201: ResponseSpec(archive.ReportOut, description="已归档的报表",
                                   generate_examples=False)})
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
            raise Invalid("invalid_body", i18n.t("archive.bad_body", web.language(request)))
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
    return archive.report_out(row)


@get("/archive", opt={"roles": ANY_ROLE}, include_in_schema=False)
async def archive_page(request: Request, exporter: Slug = "", period: PeriodCode = "",
                       unit: Search = "", page: PageNo = 1,
                       size: PageSize = DEFAULT_SIZE) -> Template:
    from core import unit_picker
    from core.orgs import Period

    user = current_user(request)
    exporter, period, typed = ((v or "").strip() for v in (exporter, period, unit))
    lang = web.language(request)
    unit, errors = await unit_picker.narrowing(
        typed, field="unit", label=i18n.t("archive.unit", lang), lang=lang,
        reach=await unit_picker.reach_for(user))
    page, size = clamp(page, size)
    total = (await archive.visible_page(user, exporter=exporter, period=period, unit=unit,
                                        limit=0))[1]
    page = min(page, max(1, -(-total // size)))  # past the end: the last page
    rows, total = await archive.visible_page(user, exporter=exporter, period=period, unit=unit,
                                             limit=size, offset=(page - 1) * size)
    pager = Paged.of(rows, total, page, size, request)
    registered = exports.exporters()
    buildable = [(name, exp) for name, (_, exp) in registered.items() if user.role in exp.roles]
    kinds = sorted(((name, exp.title) for name, (_, exp) in registered.items()),
                   key=lambda k: k[1])
    periods = await Period.all().order_by("-start").values_list("code", flat=True)
    groups = {name: await exp.groups() for name, exp in buildable if exp.groups is not None}
    return web.page(request, "archive.html", rows=rows, pager=pager, buildable=buildable,
                    periods=periods, kinds=kinds, groups=groups,
                    filters={"exporter": exporter, "period": period, "unit": typed},
                    errors=errors, period=period, local=_local,
                    status_code=422 if errors else 200)


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
                      period: PeriodCode = "") -> list[archive.ReportOut]:
    """Archived reports the caller may download, newest first."""
    rows = await archive.visible_reports(current_user(request), exporter=exporter, period=period)
    return [archive.report_out(r) for r in rows]


HANDLERS = [api_exports, export_download, export_archive, archive_page, archive_download,
            api_archive]
