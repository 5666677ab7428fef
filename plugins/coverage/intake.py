"""Uploads through preview and confirm, for reports and for the registry.

Preview reads and checks the workbook once and stages it (core.uploads.stage) with its typed
rows; confirm claims the staged upload (core.uploads.take), plans the same rows again
against the database as it is now, and saves the valid rows in one transaction. Anything
that refuses the whole confirm (the period closed meanwhile, an expired preview) rolls the
transaction back, claim included: nothing is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tortoise.transactions import in_transaction

from core.accounts import User
from core.uploads import CellError, Staged, UploadRejected, stage, take
from core.uploads_models import PendingUpload
from plugins.coverage.config import CoverageSettings
from plugins.coverage.registry_import import plan_registry, save_registry
from plugins.coverage.reporting import (
    ReportPlan,
    clean_rows,
    decide_rows,
    dump_clean,
    load_clean,
    report_period,
    save_plan,
)
from plugins.coverage.workbooks import REGISTRY_TEMPLATE, REPORT_TEMPLATE, read_upload

REPORTS = "coverage-reports"
REGISTRY = "coverage-registry"


def _rows_context(table: Any) -> dict[str, Any]:
    return {"sheet": table.sheet, "letters": table.letters,
            "rows": [[n, values] for n, values in table.rows],
            "errors": [e.as_dict() for e in table.errors]}


def _rows_of(context: dict[str, Any]) -> tuple[list[tuple[int, dict]], list[CellError]]:
    return ([(int(n), dict(v)) for n, v in context["rows"]],
            [CellError(**e) for e in context["errors"]])


def _with_field(exc: UploadRejected) -> UploadRejected:
    if exc.code in ("template_period_mismatch",):
        exc.field = "period"
    elif exc.field is None:
        exc.field = "file"
    return exc


# -- reports -------------------------------------------------------------------------------
PREVIEW_ITEMS = 500  # rows listed on the preview page; the counts cover every row


@dataclass
class ReportUpload:
    plan: ReportPlan
    table: Any
    cleaned: list[tuple[int, dict[str, Any]]]
    clean_errors: list[CellError]


async def plan_report_upload(data: bytes, filename: str, period_code: str, user: User | None,
                             lang: str = "zh", settings: Any = None,
                             progress: Callable[[int], None] | None = None) -> ReportUpload:
    period = await report_period(period_code)
    try:
        table = read_upload(data, filename, REPORT_TEMPLATE, period.code, lang, settings)
    except UploadRejected as exc:
        raise _with_field(exc) from None
    cleaned, errors, skipped = clean_rows(table.rows, period, sheet=table.sheet,
                                          letters=table.letters, prior=table.errors, lang=lang,
                                          progress=progress)
    plan = await decide_rows(cleaned, period, user, sheet=table.sheet, letters=table.letters,
                             errors=errors, skipped=skipped, lang=lang)
    return ReportUpload(plan, table, cleaned, errors)


def _report_staged(up: ReportUpload, lang: str, settings: Any) -> Staged:
    preview = up.plan.preview(lang, PREVIEW_ITEMS)
    preview.totals = up.plan.summary()
    # The clean rows travel as one JSON text: the confirm repeats only the database checks.
    return Staged(preview, {"period": up.plan.period, "summary": up.plan.summary(),
                            "sheet": up.table.sheet, "letters": up.table.letters,
                            "skipped": up.plan.skipped_blank,
                            "clean_errors": [e.as_dict() for e in up.clean_errors],
                            "clean": dump_clean(up.cleaned)},
                  _settings(settings).upload_ttl_minutes)


async def preview_reports(data: bytes, filename: str, period_code: str, user: User,
                          lang: str = "zh", settings: Any = None
                          ) -> tuple[PendingUpload, ReportPlan]:
    """Check the workbook and stage it with its clean rows; nothing is saved yet."""
    up = await plan_report_upload(data, filename, period_code, user, lang, settings)
    staged = _report_staged(up, lang, settings)
    pending = await stage(REPORTS, user, filename, data, staged.preview, context=staged.context,
                          ttl_minutes=staged.ttl_minutes)
    return pending, up.plan


async def confirm_reports(token: str, user: User, lang: str = "zh") -> dict[str, Any]:
    """Save the staged upload's valid rows in one transaction, decided against the database
    as it is now; a refusal of the whole confirm leaves everything (claim included) as it was."""
    async with in_transaction():
        pending = await take(token, user, REPORTS, allow_errors=True, lang=lang)
        return await _save_reports(pending.context, user, lang, pending.sha256)


async def _save_reports(context: dict[str, Any], user: User, lang: str,
                        sha256: str) -> dict[str, Any]:
    period = await report_period(context["period"])
    plan = await decide_rows(load_clean(context["clean"]), period, user,
                             sheet=context["sheet"], letters=context["letters"],
                             errors=[CellError(**e) for e in context["clean_errors"]],
                             skipped=context.get("skipped", 0), lang=lang)
    result = await save_plan(plan, user, source="upload", reference=sha256)
    return {**result, "period": plan.period, "errors_list": [e.as_dict() for e in plan.errors]}


# -- registry ------------------------------------------------------------------------------
async def _registry_staged(data: bytes, filename: str, full: bool, lang: str,
                           settings: Any) -> tuple[Staged, Any]:
    try:
        table = read_upload(data, filename, REGISTRY_TEMPLATE, None, lang, settings)
    except UploadRejected as exc:
        raise _with_field(exc) from None
    plan = await plan_registry(table.rows, full=full, sheet=table.sheet, letters=table.letters,
                               prior=table.errors, lang=lang)
    preview = plan.preview(lang)
    preview.summary = _missing_summary(plan, lang)
    preview.absent = [f"{o.name}（{o.uscc}）" for o in plan.missing]
    return Staged(preview, {"full": full, "summary": plan.summary(),
                            "missing": [[o.uscc, o.name] for o in plan.missing],
                            **_rows_context(table)},
                  _settings(settings).upload_ttl_minutes), plan


async def preview_registry(data: bytes, filename: str, user: User, *, full: bool = False,
                           lang: str = "zh", settings: Any = None) -> tuple[PendingUpload, Any]:
    staged, plan = await _registry_staged(data, filename, full, lang, settings)
    pending = await stage(REGISTRY, user, filename, data, staged.preview,
                          context=staged.context, ttl_minutes=staged.ttl_minutes)
    return pending, plan


def _missing_summary(plan: Any, lang: str) -> str:
    if not plan.full:
        return ""
    from core import i18n

    return i18n.t("coverage.page.missing_title", lang) + f": {len(plan.missing)}"


async def confirm_registry(token: str, user: User, lang: str = "zh") -> dict[str, Any]:
    async with in_transaction():
        pending = await take(token, user, REGISTRY, allow_errors=True, lang=lang)
        return await _save_registry(pending.context, user, lang, pending.filename,
                                    pending.sha256)


async def _save_registry(context: dict[str, Any], user: User | None, lang: str, filename: str,
                         sha256: str) -> dict[str, Any]:
    rows, prior = _rows_of(context)
    plan = await plan_registry(rows, full=bool(context.get("full")), sheet=context["sheet"],
                               letters=context["letters"], prior=prior, lang=lang)
    result = await save_registry(plan, user.username if user else "cli", filename=filename,
                                 sha256=sha256)
    return {**result, "errors_list": [e.as_dict() for e in plan.errors]}


def _settings(settings: Any) -> CoverageSettings:
    from plugins.coverage.config import settings_of

    return settings_of(settings)


# -- the kaohe_importers entries: core's import flow calls these (ctx: ImportContext) --------
async def report_periods(ctx: Any) -> list[tuple[str, str]]:
    from core.orgs import Period
    from plugins.coverage.services import definition

    kind = (await definition()).report_period_kind
    return [(p.code, p.code) for p in await Period.filter(kind=kind, status="open")
            .order_by("-end")]


async def importer_preview_reports(data: bytes, ctx: Any) -> Staged:
    up = await plan_report_upload(data, ctx.filename, ctx.fields.get("period", ""), ctx.user,
                                  ctx.lang, ctx.settings)
    return _report_staged(up, ctx.lang, ctx.settings)


async def importer_confirm_reports(data: bytes, ctx: Any) -> dict[str, Any]:
    return await _save_reports(ctx.staged, ctx.user, ctx.lang, ctx.sha256)


async def importer_template_reports(ctx: Any) -> bytes:
    from plugins.coverage import services

    period = await report_period(ctx.fields.get("period", ""))
    return await services.report_template_bytes(ctx.user, period, ctx.lang)


async def importer_preview_registry(data: bytes, ctx: Any) -> Staged:
    staged, _ = await _registry_staged(data, ctx.filename, bool(ctx.fields.get("full")),
                                       ctx.lang, ctx.settings)
    return staged


async def importer_confirm_registry(data: bytes, ctx: Any) -> dict[str, Any]:
    return await _save_registry(ctx.staged, ctx.user, ctx.lang, ctx.filename, ctx.sha256)


def importer_done(result: dict[str, Any], lang: str) -> str:
    from core import i18n

    return i18n.t("coverage.page.result", lang, create=result["create"],
                  change=result["change"], unchanged=result["unchanged"],
                  errors=result["errors"])


def reports_back(fields: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return "/coverage/?" + urlencode({"period": fields.get("period", "")})
