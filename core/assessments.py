"""Assessment definitions (assessments/*.toml): validate with key paths, apply idempotently.

The core owns [assessment], [[units]] and [[periods]]; each plugin validates and applies
its own section through hooks. Every applied file is a version; old versions stay readable.
"""

from __future__ import annotations

import difflib
import hashlib
import inspect
import tomllib
from typing import Any

import msgspec
from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from core import audit, clock
from core.orgs import LEVELS, OrgUnit, Period, ensure_unit, parse_period
from core.plugins import PluginHost

CORE_KEYS = {"assessment", "units", "periods", "documents"}


class AssessmentDefinition(Model):
    id = fields.IntField(primary_key=True)
    slug = fields.CharField(max_length=64)
    version = fields.IntField()
    title = fields.CharField(max_length=200)
    sha256 = fields.CharField(max_length=64)
    source = fields.TextField()
    data = fields.JSONField()
    is_current = fields.BooleanField(default=True)
    applied_at = fields.DatetimeField(auto_now_add=True)
    applied_by = fields.CharField(max_length=100, default="")

    class Meta:
        table = "core_assessment"
        unique_together = (("slug", "version"),)
        ordering = ["slug", "-version"]


class DefinitionError(Exception):
    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


class Meta_(msgspec.Struct, forbid_unknown_fields=True):
    slug: str
    title: str
    year: int
    description: str = ""


class UnitDef(msgspec.Struct, forbid_unknown_fields=True):
    code: str
    name: str
    level: str
    parent: str = ""
    households: int | None = None


class PeriodDef(msgspec.Struct, forbid_unknown_fields=True):
    code: str
    status: str = "open"


def _path_error(err: msgspec.ValidationError, prefix: str) -> str:
    text, _, where = str(err).partition(" - at `$")
    where = where.rstrip("`")
    return f"{prefix}{where}: {text.replace('Object contains unknown field', 'unknown key')}"


def parse(text: str, host: PluginHost) -> dict[str, Any]:
    """Parse and validate; raises DefinitionError with every error, each naming its key path."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DefinitionError([f"not valid TOML: {exc}"]) from None
    errors: list[str] = []
    try:
        msgspec.convert(data.get("assessment"), Meta_)
    except msgspec.ValidationError as exc:
        errors.append(_path_error(exc, "assessment"))
    codes: set[str] = set()
    for i, raw in enumerate(data.get("units", [])):
        try:
            unit = msgspec.convert(raw, UnitDef)
        except msgspec.ValidationError as exc:
            errors.append(_path_error(exc, f"units[{i}]"))
            continue
        if unit.level not in LEVELS:
            errors.append(f"units[{i}].level: '{unit.level}' is not one of {', '.join(LEVELS)}")
        if unit.code in codes:
            errors.append(f"units[{i}].code: '{unit.code}' appears twice")
        if unit.parent and unit.parent not in codes:
            errors.append(f"units[{i}].parent: '{unit.parent}' is not defined above this unit")
        codes.add(unit.code)
    for i, raw in enumerate(data.get("periods", [])):
        try:
            period = msgspec.convert(raw, PeriodDef)
            parse_period(period.code)
            if period.status not in ("open", "closed"):
                errors.append(f"periods[{i}].status: '{period.status}' is not open or closed")
        except msgspec.ValidationError as exc:
            errors.append(_path_error(exc, f"periods[{i}]"))
        except ValueError as exc:
            errors.append(f"periods[{i}].code: {exc}")
    if "documents" in data:  # the issuing office of official documents (core.documents)
        from core.documents import validate as validate_documents

        errors.extend(validate_documents(data["documents"]))
    validators = host.per_plugin("kaohe_validate_assessment", section={}, definition=data)
    for key in data:
        if key not in CORE_KEYS and key not in host.plugins:
            errors.append(f"{key}: unknown section (not a core section nor a loaded plugin)")
    for name in validators:
        if name in data:
            impl = [i for i in host.pm.hook.kaohe_validate_assessment.get_hookimpls()
                    if i.plugin_name == name][0]
            errors.extend(impl.function(section=data[name], definition=data) or [])
    if errors:
        raise DefinitionError(errors)
    return data


async def current(slug: str) -> AssessmentDefinition | None:
    return await AssessmentDefinition.get_or_none(slug=slug, is_current=True)


_data_by_sha: dict[str, dict[str, Any]] = {}


async def latest_data(slug: str | None = None) -> dict[str, Any]:
    """The current definition's data (the newest applied one when no slug is given).

    Read on every report submission: only the row's hash is fetched, and the decoded data is
    kept by that hash (a definition row never changes; applying makes a new one), so every
    process reads the same current definition without decoding its source and data each
    time. The dict is shared: callers read it and never change it."""
    qs = AssessmentDefinition.filter(is_current=True)
    if slug:
        qs = qs.filter(slug=slug)
    found = await qs.order_by("-applied_at", "-id").limit(1).values_list("id", "sha256")
    if not found:
        return {}
    row_id, sha = found[0]
    if sha not in _data_by_sha:
        data = await AssessmentDefinition.filter(id=row_id).values_list("data", flat=True)
        if len(_data_by_sha) >= 16:
            _data_by_sha.pop(next(iter(_data_by_sha)))
        _data_by_sha[sha] = data[0] if data else {}
    return _data_by_sha[sha]


def summary(old: str, new: str) -> dict[str, Any]:
    """What an upload changes, section by section (top-level tables of the file), and how
    many lines it adds and removes: what a person checks before and after applying."""
    import tomllib

    def tables(text: str) -> dict[str, Any]:
        try:
            return tomllib.loads(text) if text else {}
        except tomllib.TOMLDecodeError:
            return {}

    before, after = tables(old), tables(new)
    sections = []
    for key in sorted(set(before) | set(after)):
        if key not in before:
            sections.append((key, "added"))
        elif key not in after:
            sections.append((key, "removed"))
        elif before[key] != after[key]:
            sections.append((key, "changed"))
    lines = list(difflib.ndiff(old.splitlines(), new.splitlines()))
    return {"sections": sections, "added": sum(ln.startswith("+ ") for ln in lines),
            "removed": sum(ln.startswith("- ") for ln in lines), "first": not old}


def diff(old: str, new: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                        "current", "uploaded"))


async def apply(text: str, host: PluginHost, applied_by: str = "") -> tuple[AssessmentDefinition, bool]:
    """Validate and apply; returns (definition row, changed). Same file twice changes nothing."""
    data = parse(text, host)
    meta = data["assessment"]
    sha = hashlib.sha256(text.encode()).hexdigest()
    existing = await current(meta["slug"])
    if existing and existing.sha256 == sha:
        return existing, False
    async with in_transaction():
        units: dict[str, OrgUnit] = {}
        for i, u in enumerate(data.get("units", [])):
            parent = units.get(u.get("parent", "")) or (
                await OrgUnit.get_or_none(code=u["parent"]) if u.get("parent") else None)
            units[u["code"]], _ = await ensure_unit(u["code"], u["name"], u["level"], parent,
                                                    sort_order=i, households=u.get("households"))
        # A period's status follows the file only where the file changed it: a period an
        # admin closed on /periods (or the demo closed on its day) stays closed when a
        # definition that still lists it as open is applied again for another change.
        stated = {q["code"]: q.get("status", "open")
                  for q in (existing.data.get("periods", []) if existing else [])}
        for p in data.get("periods", []):
            kind, start, end = parse_period(p["code"])
            status = p.get("status", "open")
            period, created = await Period.get_or_create(
                code=p["code"], defaults={"kind": kind, "start": start, "end": end,
                                          "status": status})
            if not created and period.status != status and stated.get(p["code"]) != status:
                before = period.status
                period.status = status
                period.closed_at = clock.now() if period.status == "closed" else None
                await period.save()
                await audit.record("period.close" if status == "closed" else "period.reopen",
                                   "period", period.code, before={"status": before},
                                   after={"status": status}, reason=audit.said("audit.said.assessment_definition"))
        version = 1
        if existing:
            version = existing.version + 1
            existing.is_current = False
            await existing.save()
        row = await AssessmentDefinition.create(
            slug=meta["slug"], version=version, title=meta["title"], sha256=sha, source=text,
            data=data, applied_by=applied_by)
        for _name, impl_result in _apply_plugins(host, data, row):
            if inspect.isawaitable(impl_result):
                await impl_result
        await audit.record("assessment.apply", "assessment", f"{row.slug}@{row.version}",
                           before={"version": existing.version} if existing else None,
                           after={"version": row.version, "sha256": sha})
    return row, True


def _apply_plugins(host: PluginHost, data: dict[str, Any], row: AssessmentDefinition):
    for impl in reversed(host.pm.hook.kaohe_apply_assessment.get_hookimpls()):
        if impl.plugin_name in data:
            yield impl.plugin_name, impl.function(section=data[impl.plugin_name], definition=row)
