"""The report archive: every workbook or document an exporter produced for people to download.

Files live under settings.storage.reports_dir; the row keeps the path relative to it, the
SHA-256 taken when the file was written, and the roles that may download it.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path
from typing import Any

import msgspec
from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from core import clock
from core.errors import Forbidden, KaoheError, NotFound


class ReportFile(Model):
    id = fields.BigIntField(primary_key=True)
    exporter = fields.CharField(max_length=100)
    title = fields.CharField(max_length=200)
    period = fields.CharField(max_length=16, default="")
    unit = fields.CharField(max_length=32, default="")
    group = fields.CharField(max_length=32, default="")
    filename = fields.CharField(max_length=200)
    path = fields.CharField(max_length=500)
    sha256 = fields.CharField(max_length=64)
    size = fields.BigIntField(default=0)
    roles = fields.JSONField(default=list)
    created_by = fields.CharField(max_length=100, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "core_report_file"
        ordering = ["-id"]


class ReportTampered(KaoheError):
    status = 409


_UNSAFE_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def safe_filename(name: str, limit: int = 150) -> str:
    """A file name for people's disks: no path separators or characters Windows refuses."""
    stem, dot, ext = name.rpartition(".")
    stem = _UNSAFE_NAME.sub("_", stem if dot else name).strip(" ._") or "report"
    return f"{stem[:limit]}.{ext}" if dot else stem[:limit]


def reports_dir(settings: Any) -> Path:
    return settings.path(settings.storage.reports_dir).resolve()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


async def store(settings: Any, *, exporter: str, title: str, filename: str, data: bytes,
                roles: tuple[str, ...] | list[str], period: str = "", unit: str = "",
                group: str = "", created_by: str = "", extension: str = ".xlsx") -> ReportFile:
    """Write the file, then its row and audit entry; a failed insert removes the file."""
    from core import audit

    base = reports_dir(settings)
    now = clock.now()
    rel = Path(now.strftime("%Y")) / now.strftime("%m") / (
        f"{now:%Y%m%d%H%M%S}-{secrets.token_hex(4)}-{safe_filename(exporter, 60)}{extension}")
    target = base / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    tmp.write_bytes(data)
    os.replace(tmp, target)  # readers never see half a file
    digest = hashlib.sha256(data).hexdigest()
    try:
        async with in_transaction():
            row = await ReportFile.create(
                exporter=exporter, title=title[:200], period=period or "", unit=unit or "",
                group=group or "", filename=safe_filename(filename)[:200], path=rel.as_posix(),
                sha256=digest, size=len(data), roles=list(roles), created_by=created_by[:100])
            await audit.record("archive.create", "report_file", row.id, after=audit.snapshot(row))
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return row


def file_path(settings: Any, report: ReportFile) -> Path:
    """The stored file, refusing a path that would leave the reports folder."""
    base = reports_dir(settings)
    path = (base / report.path).resolve()
    if base not in path.parents:
        raise NotFound("report_missing", f"report {report.id}: stored path is outside the archive")
    return path


async def verified_path(settings: Any, report: ReportFile, lang: str = "zh") -> Path:
    """The file, after checking it still has the SHA-256 recorded when it was written."""
    from core import audit, i18n

    path = file_path(settings, report)
    if not path.is_file():
        raise NotFound("report_missing", i18n.t("archive.missing_file", lang, name=report.filename))
    actual = sha256_of(path)
    if actual != report.sha256:
        await audit.record("archive.tamper_detected", "report_file", report.id,
                           before={"sha256": report.sha256}, after={"sha256": actual})
        raise ReportTampered("report_tampered", i18n.t("archive.tampered", lang,
                                                       name=report.filename))
    return path


async def _unit_codes_in(path: str | None) -> set[str]:
    from core.orgs import OrgUnit

    if not path:
        return set()
    return set(await OrgUnit.filter(path__startswith=path).values_list("code", flat=True))


async def visibility(user: Any):
    """A predicate saying whether this user may see a report: its roles name the user's
    role, and a unit-specific report must lie in the user's scope."""
    from core.scope import scope_for

    scope = await scope_for(user)
    units: set[str] | None = None
    if scope.kind == "subtree":
        units = await _unit_codes_in(scope.unit_path)

    def can_see(report: ReportFile) -> bool:
        if user.role not in (report.roles or []):
            return False
        if not report.unit or scope.kind == "all":
            return True
        # An instructor's scope is per organization, not per unit: unit reports are not theirs.
        return units is not None and report.unit in units

    return can_see


def _like_prefix(text: str) -> str:
    """A LIKE pattern matching what starts with `text` (its own % _ \\ taken literally)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def _visible_where(user: Any, *, exporter: str = "", period: str = "", unit: str = ""
                         ) -> tuple[Any, str, list[Any]]:
    """The WHERE clause of the reports this user may see (the rule of `visibility`), in SQL:
    the role is looked up in the JSON list, a unit report must lie in the user's subtree."""
    import json

    from core.scope import scope_for
    from core.sql import Sql

    sql = Sql()
    values: list[Any] = []

    def param(value: Any) -> str:
        values.append(value)
        return sql.p(len(values))

    if sql.pg:  # jsonb containment; the role list is stored as a JSON array of names
        where = [f"roles @> {param(json.dumps([user.role]))}::jsonb"]
    else:
        where = [f"roles LIKE {param('%' + _like_prefix(json.dumps(user.role)))} ESCAPE '\\'"]
    scope = await scope_for(user)
    if scope.kind == "subtree" and scope.unit_path:
        # The codes of the user's subtree as a join, not a list sent from here (a district
        # holds thousands of units).
        where.append(f"(unit = '' OR EXISTS (SELECT 1 FROM core_org_unit o WHERE o.code = "
                     f"core_report_file.unit AND o.path LIKE {param(_like_prefix(scope.unit_path))}"
                     " ESCAPE '\\'))")
    elif scope.kind != "all":
        # An instructor's scope is per organization, not per unit: unit reports are not theirs.
        where.append("unit = ''")
    for column, value in (("exporter", exporter), ("period", period), ("unit", unit)):
        if value:
            where.append(f"{column} = {param(value)}")
    return sql, " AND ".join(where), values


async def visible_page(user: Any, *, exporter: str = "", period: str = "", unit: str = "",
                       limit: int = 50, offset: int = 0) -> tuple[list[ReportFile], int]:
    """The reports this user may see, newest first: one slice and how many there are, both
    counted and cut in the database."""
    sql, where, values = await _visible_where(user, exporter=exporter, period=period, unit=unit)
    counted = await sql.rows(f"SELECT COUNT(*) AS n FROM core_report_file WHERE {where}", *values)
    total = int(counted[0]["n"])
    if limit <= 0:
        return [], total
    found = await sql.rows(f"SELECT id FROM core_report_file WHERE {where} ORDER BY id DESC "
                           f"LIMIT {int(limit)} OFFSET {int(offset)}", *values)
    ids = [r["id"] for r in found]
    rows = await ReportFile.filter(id__in=ids).order_by("-id") if ids else []
    return list(rows), total


async def visible_reports(user: Any, *, exporter: str = "", period: str = "",
                          limit: int = 200) -> list[ReportFile]:
    return (await visible_page(user, exporter=exporter, period=period, limit=limit))[0]


async def get_visible(user: Any, report_id: int) -> ReportFile:
    """The report if this user may see it: 404 when there is none, 403 naming the roles."""
    report = await ReportFile.get_or_none(id=report_id)
    if report is None:
        raise NotFound("not_found", f"report {report_id} not found")
    if not (await visibility(user))(report):
        detail = (f"allowed roles: {', '.join(report.roles or [])}" if user.role not in
                  (report.roles or []) else f"unit {report.unit} is outside your scope")
        raise Forbidden("forbidden", f"role '{user.role}' may not download report "
                                     f"{report_id} ({detail})")
    return report


def media_type(report: ReportFile) -> str:
    from core.downloads import media_type

    return media_type(report.path)


class ReportOut(msgspec.Struct):
    """One archived report file."""
    id: int
    exporter: str
    title: str
    period: str | None
    unit: str | None
    group: str | None
    filename: str
    sha256: str
    size: int  # bytes
    roles: list[str]  # who may download it
    created_by: str
    created_at: str
    download: str  # path of the file


def report_out(report: ReportFile) -> ReportOut:
    return ReportOut(id=report.id, exporter=report.exporter, title=report.title,
                     period=report.period, unit=report.unit, group=report.group,
                     filename=report.filename, sha256=report.sha256, size=report.size,
                     roles=list(report.roles or []), created_by=report.created_by,
                     created_at=report.created_at.isoformat(),
                     download=f"/archive/{report.id}/download")
