"""Pages and API of the import flow (core.import_flow), mounted once for every importer:

/imports                        the importers the caller may use
/imports/{name}                 template download and upload form
POST /imports/{name}            preview (create / change / unchanged / refused cells)
POST /imports/{name}/confirm    save, once, by the uploader; POST …/cancel drops it
/imports/{name}/marked/{token}  the upload with its refused cells marked
/api/imports…                   the same for scripts
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

import msgspec
from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Redirect, Response, Template

from core import clock, downloads, i18n, import_flow, upload_format, uploads, web
from core.errors import Invalid, KaoheError, field_errors
from core.params import path_text
from core.roles import ADMIN_OFFICER_INSTRUCTOR, ALL
from core.security import current_user

ANY_ROLE = ALL
TokenInPath = path_text(64)  # the staged upload's token column
WRITERS = ADMIN_OFFICER_INSTRUCTOR


def _ctx(request: Request, filename: str = "upload.xlsx") -> import_flow.ImportContext:
    return import_flow.ImportContext(user=current_user(request), lang=web.language(request),
                                     settings=request.app.state.settings, filename=filename)


async def _fields_view(imp: Any, ctx: import_flow.ImportContext) -> list[dict[str, Any]]:
    return [{"spec": f, "label": i18n.t(f.label, ctx.lang),
             "hint": i18n.t(f.hint, ctx.lang) if f.hint else "",
             "choices": await import_flow.choices(f, ctx) if f.kind in ("choice", "bool") else []}
            for f in imp.fields]


async def _form_page(request: Request, imp: Any, *, status_code: int = 200,
                     errors: dict[str, str] | None = None,
                     values: dict[str, str] | None = None) -> Template:
    ctx = _ctx(request)
    return web.page(request, "import.html", status_code=status_code, imp=imp,
                    back=import_flow.back(imp, values or {}),
                    title=import_flow.title(imp, ctx.lang),
                    fields=await _fields_view(imp, ctx), errors=errors or {},
                    values=values or {}, accepted=upload_format.accepted_text(imp.formats),
                    accept=",".join(upload_format.SUFFIX[k] for k in imp.formats))


def _file_of(form: Any, imp: Any, lang: str) -> UploadFile:
    upload = form.get("file") if form is not None else None
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise Invalid("file_required", i18n.t("upload.format.file_required", lang,
                                              accepted=upload_format.accepted_text(imp.formats)),
                      field="file")
    return upload


@get("/imports", opt={"roles": ANY_ROLE}, include_in_schema=False)
async def imports_page(request: Request) -> Template:
    lang = web.language(request)
    found = [(imp, import_flow.title(imp, lang)) for imp in import_flow.usable(current_user(request))]
    return web.page(request, "imports.html", importers=found)


@get("/imports/{name:str}", opt={"roles": ANY_ROLE}, include_in_schema=False)
async def import_page(request: Request, name: FromPath[str]) -> Template:
    imp = import_flow.find(name, current_user(request), web.language(request))
    return await _form_page(request, imp, values=dict(request.query_params))


@get("/imports/{name:str}/template", opt={"roles": ANY_ROLE}, include_in_schema=False)
async def import_template(request: Request, name: FromPath[str]) -> Response:
    ctx = _ctx(request)
    imp = import_flow.find(name, ctx.user, ctx.lang)
    ctx.fields = await import_flow.check_fields(imp, dict(request.query_params), ctx)
    data, filename = await import_flow.template(imp, ctx)
    return web.download(data, filename)


@post("/imports/{name:str}", opt={"roles": WRITERS}, include_in_schema=False)
async def import_upload(request: Request, name: FromPath[str]) -> Template:
    ctx = _ctx(request)
    imp = import_flow.find(name, ctx.user, ctx.lang)
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "_csrf"}
    try:
        ctx.fields = await import_flow.check_fields(imp, values, ctx)
        upload = _file_of(form, imp, ctx.lang)
        ctx.filename = upload.filename
        pending = await import_flow.preview(imp, ctx, await upload.read())
    except KaoheError as exc:
        errors = field_errors(exc)
        if "" in errors:  # a refusal of the file as a whole is shown beside the file
            errors["file"] = errors.pop("")
        return await _form_page(request, imp, status_code=exc.status, errors=errors,
                                values=values)
    return _preview_page(request, imp, pending)


def _preview_page(request: Request, imp: Any, pending: Any) -> Template:
    base = f"/imports/{quote(imp.name)}"
    ctx = uploads.preview_context(
        pending, confirm_url=f"{base}/confirm", cancel_url=f"{base}/cancel",
        marked_url=f"{base}/marked/{pending.token}", back_url=base,
        title=import_flow.title(imp, web.language(request)))
    return web.page(request, "upload_preview.html", allow_errors=imp.allow_errors, **ctx)


@post("/imports/{name:str}/confirm", opt={"roles": WRITERS}, include_in_schema=False)
async def import_confirm(request: Request, name: FromPath[str]) -> Template | Redirect:
    ctx = _ctx(request)
    imp = import_flow.find(name, ctx.user, ctx.lang)
    token = str((await request.form()).get("token") or "")
    try:
        _, message = await import_flow.confirm(imp, token, ctx)
    except KaoheError as exc:
        # expired, already used, someone else's, or refused by the importer: say so on the
        # upload page, where the next step (upload again) is
        return await _form_page(request, imp, status_code=exc.status, errors={"": exc.message})
    target = web.local_path(import_flow.back(imp, ctx.fields))
    sep = "&" if "?" in target else "?"
    return Redirect(path=f"{target}{sep}msg={quote(message)}")


@post("/imports/{name:str}/cancel", opt={"roles": WRITERS}, include_in_schema=False)
async def import_cancel(request: Request, name: FromPath[str]) -> Redirect:
    ctx = _ctx(request)
    imp = import_flow.find(name, ctx.user, ctx.lang)
    await import_flow.cancel(imp, str((await request.form()).get("token") or ""), ctx)
    msg = i18n.t("imports.cancelled", ctx.lang)
    return Redirect(path=f"/imports/{quote(imp.name)}?msg={quote(msg)}")


async def _marked(request: Request, name: str, token: str) -> Response:
    ctx = _ctx(request)
    imp = import_flow.find(name, ctx.user, ctx.lang)
    pending = await uploads.get_pending(token, ctx.user, imp.name, ctx.lang)
    return web.download(uploads.marked_workbook(pending, ctx.lang),
                        uploads.marked_filename(pending, i18n.t("upload.marked_prefix", ctx.lang)))


@get("/imports/{name:str}/marked/{token:str}", opt={"roles": WRITERS}, include_in_schema=False)
async def import_marked(request: Request, name: FromPath[str], token: FromPath[str]) -> Response:
    return await _marked(request, name, token)


# -- API ---------------------------------------------------------------------------------------

class ImportFieldOut(msgspec.Struct):
    name: str
    label: str
    kind: str  # text, choice, bool
    required: bool
    choices: list[str]  # the values a choice takes


class ImporterOut(msgspec.Struct):
    name: str
    title: str
    roles: list[str]
    fields: list[ImportFieldOut]  # send them as query parameters of the upload
    template: str | None  # path of the blank workbook
    page: str


class CellErrorOut(msgspec.Struct):
    sheet: str
    row: int
    column: str
    header: str
    message: str


class PreviewOut(msgspec.Struct):
    token: str  # confirm or cancel with it, before `expires_at`
    filename: str
    expires_at: str
    create: int
    change: int
    unchanged: int
    errors: list[CellErrorOut]
    summary: str
    marked: str | None  # path of the workbook with the refused cells marked


class ImportedOut(msgspec.Struct):
    message: str
    result: dict[str, int | float | str | None]


@dataclass
class UploadForm:
    file: UploadFile


@get("/api/imports", opt={"roles": ANY_ROLE}, tags=["imports"])
async def api_importers(request: Request) -> list[ImporterOut]:
    """The importers the caller's role may use, with the values each takes beside the file."""
    ctx = _ctx(request)
    out = []
    for imp in import_flow.usable(ctx.user):
        fields = [ImportFieldOut(f.name, i18n.t(f.label, ctx.lang), f.kind, f.required,
                                 [v for v, _ in await import_flow.choices(f, ctx)])
                  for f in imp.fields]
        out.append(ImporterOut(imp.name, import_flow.title(imp, ctx.lang), list(imp.roles),
                               fields, f"/imports/{imp.name}/template" if imp.template else None,
                               f"/imports/{imp.name}"))
    return out


@post("/api/imports/{name:str}", opt={"roles": WRITERS}, tags=["imports"], status_code=200)
async def api_import_upload(
        request: Request, name: FromPath[str],
        data: Annotated[UploadForm, Body(media_type=RequestEncodingType.MULTI_PART)]
) -> PreviewOut:
    """Upload a file (multipart field `file`; the importer's fields as query parameters) and
    get its preview and a token to confirm it with."""
    ctx = _ctx(request)
    imp = import_flow.find(name, ctx.user, ctx.lang)
    ctx.fields = await import_flow.check_fields(imp, dict(request.query_params), ctx)
    upload = _file_of({"file": data.file}, imp, ctx.lang)
    ctx.filename = upload.filename
    pending = await import_flow.preview(imp, ctx, await upload.read())
    p = pending.preview
    totals = p.get("totals") or {}
    errors = [CellErrorOut(str(e.get("sheet") or ""), int(e.get("row") or 0),
                           str(e.get("column") or ""), str(e.get("header") or ""),
                           str(e.get("message") or "")) for e in p.get("errors", [])]
    return PreviewOut(
        token=pending.token, filename=pending.filename,
        expires_at=pending.expires_at.astimezone(clock.tz()).isoformat(),
        create=totals.get("create", len(p.get("create", []))),
        change=totals.get("change", len(p.get("change", []))),
        unchanged=int(p.get("unchanged") or 0), errors=errors, summary=p.get("summary", ""),
        marked=f"/api/imports/{imp.name}/{pending.token}/marked" if errors else None)


@post("/api/imports/{name:str}/{token:str}/confirm", opt={"roles": WRITERS}, tags=["imports"],
      status_code=200)
async def api_import_confirm(request: Request, name: FromPath[str], token: TokenInPath) -> ImportedOut:
    """Save a previewed upload: once, by its uploader, before it expires."""
    ctx = _ctx(request)
    imp = import_flow.find(name, ctx.user, ctx.lang)
    result, message = await import_flow.confirm(imp, token, ctx)
    plain = {k: v for k, v in (result or {}).items() if isinstance(v, int | float | str | None)} \
        if isinstance(result, dict) else {}
    return ImportedOut(message=message, result=plain)


@post("/api/imports/{name:str}/{token:str}/cancel", opt={"roles": WRITERS}, tags=["imports"],
      status_code=204)
async def api_import_cancel(request: Request, name: FromPath[str], token: TokenInPath) -> None:
    """Drop a previewed upload."""
    ctx = _ctx(request)
    await import_flow.cancel(import_flow.find(name, ctx.user, ctx.lang), token, ctx)


@get("/api/imports/{name:str}/{token:str}/marked", opt={"roles": WRITERS}, tags=["imports"],
     media_type=downloads.XLSX)
async def api_import_marked(request: Request, name: FromPath[str], token: TokenInPath) -> Response:
    """The uploaded workbook with its refused cells filled red and commented."""
    return await _marked(request, name, token)


PAGES = [imports_page, import_page, import_template, import_upload, import_confirm,
         import_cancel, import_marked]
API = [api_importers, api_import_upload, api_import_confirm, api_import_cancel,
       api_import_marked]
HANDLERS = PAGES + API
