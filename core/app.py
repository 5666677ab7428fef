"""The Litestar app factory: mounts core and plugin routes, wires the lifespan."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Response, Router
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException
from litestar.openapi import OpenAPIConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

import core
from core import db, i18n
from core.boot import boot
from core.errors import KaoheError
from core.headers import security_headers
from core.login_limits import limiter_for
from core.orgs import PeriodClosedError
from core.plugins import PluginHost
from core.security import auth_middleware_factory, role_guard
from core.settings import Settings

log = logging.getLogger("kaohe.app")
CORE_DIR = Path(__file__).parent


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith(("/api/", "/schema")) and "text/html" in request.headers.get(
        "accept", "")


def _back_link(request: Request) -> str:
    """Where the error page leads back to: the page the user came from when it is on this
    site (and is not the page that failed), else the dashboard."""
    from urllib.parse import urlsplit

    from core.web import local_path

    referer = request.headers.get("referer") or ""
    parts = urlsplit(referer)
    if parts.netloc and parts.netloc != request.headers.get("host", ""):
        return "/"
    target = local_path(parts.path or "/")
    if parts.query and target != "/":
        target = f"{target}?{parts.query}"
    return target


def _error_response(request: Request, status: int, code: str, message: str,
                    text: str | None = None, **extra: Any) -> Response:
    """People get a page in their language (or the login form); API clients get JSON with a
    stable code. `text` is the message in the user's language when the caller has it."""
    if _wants_html(request):
        if status == 401:
            return Redirect(path=f"/login?next={request.url.path}")
        from core.web import language, page

        lang = language(request)
        kind = status if status in (400, 403, 404, 405, 409, 422, 429, 500) else (
            500 if status >= 500 else 400)
        shown = text or i18n.error_text(code, lang) or i18n.t(f"error_page.{kind}.message", lang)
        return page(request, "error.html", status_code=status, status=status, code=code,
                    kind=kind, message=shown, back=_back_link(request))
    return Response({"error": {"code": code, "message": message, **extra}}, status_code=status)


def handle_kaohe_error(request: Request, exc: KaoheError) -> Response:
    from core.web import language

    extra = {k: v for k, v in (("field", exc.field), ("details", exc.details)) if v is not None}
    return _error_response(request, exc.status, exc.code, exc.message,
                           text=exc.text(language(request)), **extra)


def handle_period_closed(request: Request, exc: PeriodClosedError) -> Response:
    from core.web import language

    msg = i18n.t("error.period_closed", language(request), code=exc.code)
    return _error_response(request, 409, "period_closed", msg, text=msg)


def handle_http(request: Request, exc: HTTPException) -> Response:
    code = {401: "login_required", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}.get(
        exc.status_code, "bad_request")
    extra = {"details": exc.extra} if getattr(exc, "extra", None) else {}
    problems = exc.extra if isinstance(getattr(exc, "extra", None), list) else []
    if exc.status_code == 400 and problems and isinstance(problems[0], dict) and problems[0].get("key"):
        # A typed parameter refused at the boundary: say which one, in the user's language.
        from core.params import describe, field_of
        from core.web import language

        first, lang = problems[0], language(request)
        field = field_of(first["key"], first.get("message", ""))
        message = i18n.t("params.invalid", lang, field=field,
                         problem=describe(first.get("message", ""), lang))
        return _error_response(request, 400, "invalid_parameter", message, text=message,
                               field=field, **extra)
    response = _error_response(request, exc.status_code, code, str(exc.detail), **extra)
    if exc.headers and exc.status_code == 405:
        response.headers.update({"Allow": exc.headers.get("allow", "")})  # what the path allows
    return response


def handle_internal(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s", request.url.path, exc_info=exc)
    return _error_response(request, 500, "internal", "internal server error")


@contextlib.asynccontextmanager
async def platform_lifespan(app: Litestar):
    """Open the database, apply or refuse pending migrations, run the scheduler."""
    settings, host = app.state.settings, app.state.host
    config = await db.init_db(settings, host)
    try:
        pending = await db.pending_migrations(config)
        if pending:
            if not settings.database.auto_migrate:
                raise db.DatabaseError(f"{len(pending)} pending migrations "
                                       f"({', '.join(pending[:3])}…): run `kaohe migrate`")
            await db.migrate(config)
        app.state.tortoise_config = config
        scheduler = None
        if app.state.run_scheduler:
            from core.scheduler import PlatformScheduler

            scheduler = PlatformScheduler(settings, host)
            await scheduler.start()
        app.state.scheduler = scheduler
        try:
            yield
        finally:
            if scheduler is not None:
                await scheduler.shutdown()
    finally:
        await app.state.limiter.counters.close()
        await db.close_db()


def create_app(settings: Settings | str | None = None, host: PluginHost | None = None,
               *, run_scheduler: bool | None = None) -> Litestar:
    if host is None or not isinstance(settings, Settings):
        settings, host = boot(settings)
    from core import routes as core_routes
    from core.api_docs import declare_errors

    # Error responses are declared on the handlers before routers take them in.
    handlers: list[Any] = list(core_routes.HANDLERS)
    declare_errors(handlers)
    for name, pages in host.per_plugin("kaohe_pages").items():
        if pages:
            declare_errors(pages)
            handlers.append(Router(path=f"/{name}", route_handlers=list(pages)))
    for name, api in host.per_plugin("kaohe_api_routes").items():
        if api:
            declare_errors(api)
            handlers.append(Router(path=f"/api/{name}", route_handlers=list(api), tags=[name]))
    handlers.append(create_static_files_router(path="/static", directories=[CORE_DIR / "static"],
                                               opt={"public": True}, include_in_schema=False))
    template_dirs = [CORE_DIR / "templates"]
    for dirs in host.per_plugin("kaohe_template_dirs").values():
        template_dirs.extend(Path(d) for d in dirs or [])

    app = Litestar(
        route_handlers=handlers,
        middleware=[auth_middleware_factory],
        guards=[role_guard],
        lifespan=[platform_lifespan],
        exception_handlers={
            KaoheError: handle_kaohe_error,
            PeriodClosedError: handle_period_closed,
            NotAuthorizedException: handle_http,
            PermissionDeniedException: handle_http,
            HTTPException: handle_http,
            Exception: handle_internal,
        },
        template_config=TemplateConfig(directory=template_dirs, engine=JinjaTemplateEngine),
        # The documentation router is public by its own opt, not by a path prefix.
        openapi_config=OpenAPIConfig(title="kaohe API", version=core.__version__, path="/schema",
                                     openapi_router=Router("/schema", route_handlers=[],
                                                           include_in_schema=False,
                                                           opt={"public": True, "docs_page": True})),
        before_send=[security_headers(hsts=settings.security.secure_cookies)],
        request_max_body_size=settings.storage.max_upload_mb * 1024 * 1024,
        debug=settings.app.debug,
    )
    app.state.settings = settings
    app.state.host = host
    app.state.run_scheduler = settings.scheduler.enabled if run_scheduler is None else run_scheduler
    app.state.limiter = limiter_for(settings)
    return app


# The options of `kaohe serve --workers N`, for the workers uvicorn spawns.
SERVE_ENV = "KAOHE_SERVE_WORKER"


def serve_options(settings: Settings, run_scheduler: bool | None) -> str:
    """What a worker needs to build the parent's app: the settings file and the database the
    command line chose (--settings, --database), and whether this serve runs the scheduler."""
    return json.dumps({"settings": str(settings.source) if settings.source else None,
                       "database": settings.database.url, "scheduler": run_scheduler})


def serve_factory() -> Litestar:
    """The app of one worker process (uvicorn `factory=True`). Each worker is a fresh
    interpreter: it boots, opens its own database pool and Redis client in the lifespan, and
    runs the scheduler like a separate instance; the claim row keeps each firing single."""
    from core.cli import settle_heap

    opts = json.loads(os.environ[SERVE_ENV])
    settings, host = boot(opts["settings"])
    settings.core.database.url = opts["database"]
    app = create_app(settings, host, run_scheduler=opts["scheduler"])
    settle_heap()
    return app
