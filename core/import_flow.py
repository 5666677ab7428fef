"""The one import flow for every plugin's Importer (core.contrib): find it, check the values
given beside the file, preview and stage, confirm once in one transaction, cancel.

The page, the API (core.import_routes) and `kaohe import NAME FILE` (core.import_cli) all go
through these functions, so an importer holds only its columns, planner and saver.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tortoise.transactions import in_transaction

from core import i18n, uploads
from core.contrib import Importer, ImportField
from core.errors import FieldsInvalid, Forbidden, NotFound
from core.plugins import get_host


@dataclass
class ImportContext:
    """What an importer's functions receive. The values given beside the file are in `fields`
    and can also be read as attributes (`ctx.period`)."""

    user: Any
    lang: str = i18n.DEFAULT
    settings: Any = None
    filename: str = "upload.xlsx"
    fields: dict[str, str] = field(default_factory=dict)
    staged: dict[str, Any] = field(default_factory=dict)  # a Staged preview's context, at confirm
    token: str = ""
    sha256: str = ""  # of the confirmed upload

    def __getattr__(self, name: str) -> Any:
        fields = self.__dict__.get("fields") or {}
        if name in fields:
            return fields[name]
        raise AttributeError(name)

    def get(self, key: str, default: Any = None) -> Any:
        if key in self.fields:
            return self.fields[key]
        return getattr(self, key, default)


def importers() -> dict[str, tuple[str, Importer]]:
    """{name: (plugin, importer)} of every installed plugin."""
    return {imp.name: (plugin, imp) for plugin, imp in get_host().collect("kaohe_importers")}


def title(imp: Importer, lang: str) -> str:
    return i18n.t(imp.title, lang)


def find(name: str, user: Any, lang: str) -> Importer:
    """The named importer, if the caller's role may use it."""
    found = importers().get(name)
    if found is None:
        raise NotFound("unknown_importer", i18n.t("imports.unknown", lang, name=name),
                       field="name")
    imp = found[1]
    if user is None or user.role not in imp.roles:
        raise Forbidden("import_forbidden", i18n.t("imports.forbidden", lang,
                                                   title=title(imp, lang)))
    return imp


def usable(user: Any) -> list[Importer]:
    return sorted((imp for _, imp in importers().values() if user.role in imp.roles),
                  key=lambda i: i.name)


async def choices(spec: ImportField, ctx: ImportContext) -> list[tuple[str, str]]:
    if spec.kind == "bool":
        return [("1", i18n.t("common.yes", ctx.lang)), ("", i18n.t("common.no", ctx.lang))]
    return list(await spec.choices(ctx)) if spec.choices else []


async def check_fields(imp: Importer, given: Mapping[str, Any], ctx: ImportContext
                       ) -> dict[str, str]:
    """The importer's fields from a form, query or command line; every refusal names its
    field. Values the importer does not declare are ignored."""
    out: dict[str, str] = {}
    errors: dict[str, str] = {}
    for spec in imp.fields:
        raw = given.get(spec.name)
        value = "" if raw is None else str(raw).strip()
        label = i18n.t(spec.label, ctx.lang)
        if spec.kind == "bool":
            value = "1" if value.lower() in ("1", "true", "on", "yes", "y") else ""
        elif len(value) > spec.max_length:
            errors[spec.name] = i18n.t("imports.too_long", ctx.lang, field=label,
                                       max=spec.max_length)
            continue
        elif not value and spec.required:
            errors[spec.name] = i18n.t("imports.required", ctx.lang, field=label)
            continue
        elif value and spec.kind == "choice":
            allowed = [v for v, _ in await choices(spec, ctx)]
            if value not in allowed:
                errors[spec.name] = i18n.t("imports.not_a_choice", ctx.lang, field=label,
                                           value=value)
                continue
        out[spec.name] = value
    if errors:
        raise FieldsInvalid(errors, code="invalid_import_fields")
    return out


async def preview(imp: Importer, ctx: ImportContext, data: bytes) -> Any:
    """Read and check the file, and keep it with its preview until the uploader confirms."""
    planned = await imp.preview(data, ctx)
    if isinstance(planned, uploads.Staged):
        return await uploads.stage(imp.name, ctx.user, ctx.filename, data, planned.preview,
                                   context={**planned.context, "fields": ctx.fields},
                                   ttl_minutes=planned.ttl_minutes)
    return await uploads.stage(imp.name, ctx.user, ctx.filename, data, planned,
                               context={"fields": ctx.fields})


async def confirm(imp: Importer, token: str, ctx: ImportContext) -> tuple[Any, str]:
    """Save a staged upload: claimed once by its uploader, before expiry, in one transaction
    with the importer's writes (a failing save releases the claim)."""
    async with in_transaction():
        pending = await uploads.take(token, ctx.user, imp.name, allow_errors=imp.allow_errors,
                                     lang=ctx.lang)
        ctx.filename = pending.filename
        ctx.staged = dict(pending.context or {})
        ctx.fields = dict(ctx.staged.get("fields") or {})
        ctx.token, ctx.sha256 = pending.token, pending.sha256
        result = await imp.confirm(bytes(pending.data), ctx)
    return result, done_message(imp, result, ctx.lang)


def done_message(imp: Importer, result: Any, lang: str) -> str:
    if imp.done is not None:
        return imp.done(result, lang)
    counts = result if isinstance(result, Mapping) else {}
    return i18n.t("imports.saved", lang, title=title(imp, lang),
                  created=counts.get("created", 0), changed=counts.get("changed",
                                                                       counts.get("updated", 0)))


def back(imp: Importer, fields: Mapping[str, str]) -> str:
    """Where the flow returns to: the importer's page, given the fields it was used with."""
    return imp.back(dict(fields)) if callable(imp.back) else imp.back


async def cancel(imp: Importer, token: str, ctx: ImportContext) -> None:
    await uploads.get_pending(token, ctx.user, imp.name, ctx.lang)  # someone else's: not found
    await uploads.discard(token, ctx.user, ctx.lang)


async def template(imp: Importer, ctx: ImportContext) -> tuple[bytes, str]:
    if imp.template is None:
        raise NotFound("no_template", i18n.t("imports.no_template", ctx.lang,
                                             title=title(imp, ctx.lang)))
    data = await imp.template(ctx)
    return data, imp.template_filename or f"{imp.name}-template.xlsx"
