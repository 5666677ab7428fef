"""Every plugin's named workbooks and documents (hook `kaohe_exporters`): build, check roles,
archive. An exporter's `kind` is "workbook" (.xlsx) or "document" (.docx); both go the same way.

    data = await build_export("coverage-stats", ExportRequest(period="2014"), user=user)
    report = await archive_export("coverage-stats", request, data, created_by=user.username,
                                  settings=settings)  # request.app.state / ctx.settings

The CLI `kaohe export NAME --period P [--unit CODE] [--group G] -o FILE.xlsx|.docx` and the
routes in core/export_routes.py use the same two functions.
"""

from __future__ import annotations

import dataclasses
import io
import zipfile
from typing import Any

from core import clock, i18n
from core.contrib import Exporter, ExportRequest
from core.errors import Forbidden, Invalid, KaoheError, NotFound
from core.plugins import PluginHost, get_host

__all__ = ["ExportRequest", "Exporter", "archive_export", "build_export", "default_filename",
           "exporters", "get_exporter", "register_cli"]

class ExportRegistryError(KaoheError):
    status = 500


def exporters(host: PluginHost | None = None) -> dict[str, tuple[str, Exporter]]:
    """name → (plugin, exporter), from every loaded plugin. A name used twice is an error."""
    found: dict[str, tuple[str, Exporter]] = {}
    for plugin, exporter in (host or get_host()).collect("kaohe_exporters"):
        if not isinstance(exporter, Exporter):
            raise ExportRegistryError("exporter_invalid", f"plugin '{plugin}': kaohe_exporters "
                                      f"returned {type(exporter).__name__}, not core.contrib.Exporter")
        if exporter.name in found:
            first, second = sorted((found[exporter.name][0], plugin))
            raise ExportRegistryError(
                "exporter_duplicate", f"exporter name '{exporter.name}' is contributed by both "
                f"'{first}' and '{second}'; names must be unique")
        found[exporter.name] = (plugin, exporter)
    return dict(sorted(found.items()))


def get_exporter(name: str, host: PluginHost | None = None, lang: str = i18n.DEFAULT) -> Exporter:
    known = exporters(host)
    if name not in known:
        raise NotFound("unknown_exporter", i18n.t("archive.unknown_exporter", lang, name=name,
                                                  known=", ".join(known) or "-"), field="name")
    return known[name][1]


async def _scoped(exporter: Exporter, request: ExportRequest, user: Any) -> ExportRequest:
    """Check the period and unit exist; keep a unit officer inside their own subtree."""
    from core.orgs import OrgUnit, Period
    from core.scope import scope_for

    lang = request.lang
    if exporter.needs_period and not request.period:
        raise Invalid("period_required", i18n.t("archive.period_required", lang,
                                                name=exporter.name), field="period")
    if request.period and not await Period.exists(code=request.period):
        raise NotFound("unknown_period", f"period: no period '{request.period}'", field="period")
    unit = await OrgUnit.get_or_none(code=request.unit) if request.unit else None
    if request.unit and unit is None:
        raise NotFound("unknown_unit", f"unit: no org unit with code '{request.unit}'",
                       field="unit")
    options = dict(request.options)
    if user is not None:
        options.update(user=user.username, role=user.role)
        scope = await scope_for(user)
        if scope.kind == "subtree":
            own = await user.unit  # type: ignore[misc]
            if unit is None:
                unit = own
            elif not scope.allows_unit_path(unit.path):
                raise Forbidden("forbidden", f"unit: '{unit.code}' is outside your unit "
                                             f"'{own.code if own else '-'}'", field="unit")
    return dataclasses.replace(request, unit=unit.code if unit else request.unit, options=options)


async def prepare(name: str, request: ExportRequest, user: Any = None,
                  host: PluginHost | None = None) -> tuple[Exporter, ExportRequest]:
    """The exporter and the request as it will be built (roles checked, scope applied)."""
    exporter = get_exporter(name, host, request.lang)
    if user is not None and user.role not in exporter.roles:
        raise Forbidden("forbidden", i18n.t("archive.forbidden", request.lang, role=user.role,
                                            name=name, roles=", ".join(exporter.roles)))
    return exporter, await _scoped(exporter, request, user)


async def build_export(name: str, request: ExportRequest, user: Any = None,
                       host: PluginHost | None = None) -> bytes:
    """Build one workbook. `user=None` is the CLI or a job: no role check."""
    exporter, request = await prepare(name, request, user, host)
    return await _build(exporter, request)


# The part every file of a kind has: a workbook is not passed off as a document.
_MAIN_PART = {"workbook": "xl/workbook.xml", "document": "word/document.xml"}


async def _build(exporter: Exporter, request: ExportRequest) -> bytes:
    data = await exporter.build(request)
    ok = isinstance(data, bytes | bytearray) and zipfile.is_zipfile(io.BytesIO(data))
    if ok:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            ok = _MAIN_PART[exporter.kind] in z.namelist()
    if not ok:
        raise ExportRegistryError("exporter_failed", f"exporter '{exporter.name}' did not return "
                                  f"{exporter.extension} bytes (got {type(data).__name__})")
    return bytes(data)


async def group_name(exporter: Exporter, request: ExportRequest) -> str:
    """The request's peer group as people name it (区（市、县）, not districts)."""
    if not request.group or exporter.groups is None:
        return request.group or ""
    return dict(await exporter.groups()).get(request.group, request.group)


def default_filename(exporter: Exporter, request: ExportRequest, group: str | None = None) -> str:
    from core.archive import safe_filename

    parts = [exporter.title or exporter.name, request.period or "", request.unit or "",
             request.group or "" if group is None else group,
             clock.local_now().strftime("%Y%m%d-%H%M")]
    return safe_filename("_".join(p for p in parts if p) + exporter.extension)


async def archive_export(name: str, request: ExportRequest, data: bytes, created_by: str, *,
                         settings: Any = None, host: PluginHost | None = None) -> Any:
    """Store a built workbook in the report archive with its SHA-256; the exporter's roles
    decide who may download it. Returns the core.archive.ReportFile row."""
    from core import archive

    if settings is None:
        raise RuntimeError("archive_export needs the platform settings: pass settings= "
                           "(request.app.state.settings in a route, ctx.settings in a job)")
    exporter = get_exporter(name, host, request.lang)
    group = await group_name(exporter, request)
    title = " ".join(p for p in (exporter.title, request.period, request.unit, group) if p)
    return await archive.store(
        settings, exporter=name, title=title, filename=default_filename(exporter, request, group),
        data=data, roles=exporter.roles, period=request.period or "", unit=request.unit or "",
        extension=exporter.extension,
        group=request.group or "", created_by=created_by)


def register_cli(cli: Any) -> None:
    """Add `kaohe export` to the command group."""
    from pathlib import Path

    import click

    from core.audit import acting_as
    from core.cli import Ctx, fail, run_with_db

    @cli.command("export")
    @click.argument("name", required=False)
    @click.option("--period", default=None, help="Period code, e.g. 2014 or 2014Q3.")
    @click.option("--unit", default=None, help="Org unit code.")
    @click.option("--group", default=None, help="Group of units (ranking group).")
    @click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
                  help="Where to write the file (.xlsx, or .docx for a document).")
    @click.option("--archive", is_flag=True, help="Also store the file in the report archive.")
    @click.option("--lang", type=click.Choice(["zh", "en"]), default="zh")
    @click.option("--list", "list_only", is_flag=True, help="List the exporters and exit.")
    @click.option("--option", "option_pairs", multiple=True, metavar="KEY=VALUE",
                  help="An exporter option, e.g. record=12 for accountability-criticism.")
    @click.pass_obj
    def export(obj: Ctx, name, period, unit, group, output, archive, lang, list_only,
               option_pairs) -> None:
        """Build a named workbook (.xlsx) or document (.docx) into a file."""
        _, host = obj.boot()
        try:
            known = exporters(host)
        except KaoheError as exc:
            fail(exc.message)
        if list_only or not name:
            for key, (plugin, exp) in known.items():
                click.echo(f"{key}\t{exp.title}\t{plugin}\t{exp.kind} ({exp.extension})\t"
                           f"roles: {', '.join(exp.roles)}")
            if not name and not list_only:
                fail("NAME is required (listed above)")
            return
        extension = known[name][1].extension if name in known else ".xlsx"
        if not output:
            fail(f"-o/--output FILE{extension} is required")
        if not output.lower().endswith(extension):
            fail(f"-o: '{output}' must end with {extension}")

        async def body(settings, host_):
            options = {}
            for pair in option_pairs:
                key, sep, value = pair.partition("=")
                if not sep or not key:
                    fail(f"--option: '{pair}' is not KEY=VALUE")
                options[key] = value
            request = ExportRequest(period=period, unit=unit, group=group, lang=lang,
                                    options=options)
            try:
                exporter, request = await prepare(name, request, None, host_)
                data = await _build(exporter, request)
            except KaoheError as exc:
                fail(f"{exc.field + ': ' if exc.field and exc.field not in exc.message else ''}"
                     f"{exc.message}")
            Path(output).write_bytes(data)
            click.echo(f"{name}: wrote {output} ({len(data)} bytes)")
            if archive:
                with acting_as("cli"):
                    row = await archive_export(name, request, data, created_by="cli",
                                               settings=settings, host=host_)
                click.echo(f"archived as report {row.id} (sha256 {row.sha256})")

        run_with_db(obj, body)
