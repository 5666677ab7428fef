"""The shapes plugins contribute through hooks: jobs, exporters, importers, indicators, events,
navigation items and dashboard panels. No web imports: domain code may use them."""

from __future__ import annotations

import datetime as dt
import functools
import tomllib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import clock, downloads
from core.roles import ADMIN_LEADER, ADMIN_ONLY


def plugin_messages(plugin_file: str, namespace: str) -> dict[str, dict[str, Any]]:
    """A plugin's `messages.toml` ([zh] and [en] tables of its own keys) filed under its
    namespace, for `kaohe_messages`: `plugin_messages(__file__, "coverage")`."""
    path = Path(plugin_file).with_name("messages.toml")
    data = _read_messages(path, path.stat().st_mtime_ns)
    return {lang: {namespace: entries} for lang, entries in data.items()}


@functools.lru_cache(maxsize=64)
def _read_messages(path: Path, mtime_ns: int) -> dict[str, Any]:
    """Parsed once per file version: boot runs per command, per worker and per test, and the
    catalogs are most of its time."""
    return tomllib.loads(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class JobSpec:
    """A scheduled check. `trigger` is a cron string ("0 2 * * *") in the platform's timezone
    ([app] timezone), or an APScheduler trigger object. `func(ctx)` is async and returns a dict of what it
    changed (recorded with the run)."""

    id: str
    func: Callable[[Any], Awaitable[dict[str, Any] | None]]
    trigger: Any
    description: str = ""


@dataclass(frozen=True)
class ExportRequest:
    period: str | None = None
    unit: str | None = None
    group: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    lang: str = "zh"


# What an exporter builds: the file extension and media type of each kind.
EXPORT_KINDS = {"workbook": (".xlsx", downloads.XLSX), "document": (".docx", downloads.DOCX)}


@dataclass(frozen=True)
class Exporter:
    """A named workbook (kind "workbook": `build(request)` returns .xlsx bytes) or official
    document (kind "document": .docx bytes, see core.documents). `build` is async."""

    name: str
    title: str
    build: Callable[[ExportRequest], Awaitable[bytes]]
    roles: tuple[str, ...] = ADMIN_LEADER
    needs_period: bool = True
    kind: str = "workbook"
    # The groups of units the exporter takes as `group` ([(key, name)], async), so the archive
    # page offers them by name; None: the exporter takes no group.
    groups: Callable[[], Awaitable[list[tuple[str, str]]]] | None = None

    def __post_init__(self) -> None:
        if self.kind not in EXPORT_KINDS:
            raise ValueError(f"exporter '{self.name}': kind '{self.kind}' is not one of "
                             f"{', '.join(EXPORT_KINDS)}")

    @property
    def extension(self) -> str:
        return EXPORT_KINDS[self.kind][0]

    @property
    def media_type(self) -> str:
        return EXPORT_KINDS[self.kind][1]


@dataclass(frozen=True)
class ImportField:
    """A value the uploader gives beside the file (a period, a group, an option): a form field
    on the page, a query parameter of the API, an option of `kaohe import NAME`."""

    name: str
    label: str  # catalog key
    kind: str = "text"  # text, choice, bool
    required: bool = False
    # (value, label) pairs for a choice; async, given the ImportContext (its user and lang)
    choices: Callable[..., Awaitable[list[tuple[str, str]]]] | None = None
    max_length: int = 64
    hint: str = ""  # catalog key of a short explanation


@dataclass(frozen=True)
class Importer:
    """An upload that core takes through one flow (page, API and `kaohe import NAME FILE`):
    template download, upload, preview of what would be created or changed and every refused
    cell, confirmation once by the uploader before expiry, cancel, the marked workbook.

    `preview(data, ctx)` returns a core.uploads.Preview; `confirm(data, ctx)` saves the rows
    (inside the flow's transaction) and returns counts; `done(result, lang)` says what was
    saved; `template(ctx)` returns the blank workbook. `ctx` is a core.import_flow.ImportContext.
    """

    name: str
    title: str  # catalog key (a plain title is shown as is)
    preview: Callable[..., Awaitable[Any]]
    confirm: Callable[..., Awaitable[Any]]
    template: Callable[..., Awaitable[bytes]] | None = None
    roles: tuple[str, ...] = ADMIN_ONLY
    fields: tuple[ImportField, ...] = ()
    back: str | Callable[[dict[str, str]], str] = "/"  # the page to return to (from the fields)
    done: Callable[[Any, str], str] | None = None
    template_filename: str = ""
    allow_errors: bool = False  # refused rows may be skipped and the rest saved
    formats: tuple[str, ...] = ("xlsx", "xls", "xlsb", "ods")  # see core.upload_format


@dataclass(frozen=True)
class IndicatorSource:
    """Values a ranking can pull: `values(period_code, unit_codes)` → {unit_code: number}."""

    key: str
    title: str
    unit: str
    values: Callable[[str, list[str]], Awaitable[dict[str, float | None]]]
    higher_is_better: bool = True


@dataclass(frozen=True)
class DomainEvent:
    """Announced by one plugin through core.events, delivered to each listener once per `key`."""

    name: str
    key: str
    payload: dict[str, Any]
    source: str
    occurred_at: dt.datetime = field(default_factory=lambda: clock.now())


@dataclass(frozen=True)
class NavItem:
    key: str  # message-catalog key of the label
    path: str
    roles: tuple[str, ...]
    order: int = 50


@dataclass(frozen=True)
class Panel:
    """A dashboard panel: a template rendered with `context`, ordered by `order`."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)
    order: int = 50


@dataclass(frozen=True)
class Notice:
    """What a plugin did on the platform's behalf (for example, ended a disabled instructor's
    assignments), told to the admin as the catalog message `key` filled with `params`."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)
