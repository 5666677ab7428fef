"""Typed bodies of the platform's own API (plugins, inbox, assessment definitions, audit), so
/schema describes each field and a malformed body is refused naming it (400) before the
handler runs. No web framework here: the routes build these from models and results.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import msgspec

# A definition file is a few kilobytes; the bound only keeps a runaway body out of the parser.
DEFINITION_MAX_CHARS = 1_000_000


def _utc(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat()


class PluginOut(msgspec.Struct):
    """A loaded plugin, or one that failed to load (then `error` says why)."""
    name: str
    module: str
    version: str
    distribution: str  # the installed package it came from, "" for a local module
    error: str | None
    contributes: dict[str, list[str]]  # e.g. {"hooks": ["kaohe_routes", …]}

    @classmethod
    def of(cls, p: Any) -> PluginOut:
        return cls(name=p.name, module=p.module, version=p.version, distribution=p.distribution,
                   error=p.error, contributes=dict(p.contributes))


class InboxMessageOut(msgspec.Struct):
    id: int
    subject: str
    body: str
    link: str  # a page of the platform, "" when none
    created_at: str  # ISO 8601
    read: bool

    @classmethod
    def of(cls, m: Any) -> InboxMessageOut:
        return cls(id=m.id, subject=m.subject, body=m.body, link=m.link or "",
                   created_at=m.created_at.isoformat(), read=m.read_at is not None)


class DefinitionOut(msgspec.Struct):
    """One applied version of an assessment definition."""
    slug: str
    version: int
    title: str
    sha256: str  # of the TOML source as applied
    current: bool
    applied_at: str  # ISO 8601

    @classmethod
    def of(cls, r: Any) -> DefinitionOut:
        return cls(slug=r.slug, version=r.version, title=r.title, sha256=r.sha256,
                   current=r.is_current, applied_at=r.applied_at.isoformat())


class ApplyIn(msgspec.Struct, forbid_unknown_fields=True):
    text: Annotated[str, msgspec.Meta(max_length=DEFINITION_MAX_CHARS)]  # the TOML source


class ApplyOut(msgspec.Struct):
    slug: str
    version: int
    changed: bool  # false when the same text was already current


class AuditEntryOut(msgspec.Struct):
    id: int
    at: str  # ISO 8601, UTC
    actor: str
    action: str
    object_type: str
    object_id: str
    before: Any  # the object's recorded state before, null when created
    after: Any  # … and after, null when deleted
    reason: str
    hash: str
    prev_hash: str

    @classmethod
    def of(cls, e: Any) -> AuditEntryOut:
        return cls(id=e.id, at=_utc(e.at), actor=e.actor, action=e.action,
                   object_type=e.object_type, object_id=e.object_id, before=e.before,
                   after=e.after, reason=e.reason, hash=e.hash, prev_hash=e.prev_hash)


class AuditPageOut(msgspec.Struct):
    total: int  # entries matching the filters
    page: int
    per_page: int
    entries: list[AuditEntryOut]


class AnchorOut(msgspec.Struct):
    """A signed anchor: the chain's length and head at a moment, kept outside the database."""
    at: str  # local time of the platform
    count: int
    head_id: int
    head_hash: str
    line: int  # in the anchor file


class FindingOut(msgspec.Struct):
    level: Literal["ok", "warn", "error"]
    message: str  # in the caller's language


class VerifyOut(msgspec.Struct):
    ok: bool
    entries_checked: int
    broken_entry: int | None  # id of the first entry whose hash does not follow
    state: Literal["none", "file_missing", "match", "missing", "rewritten", "not_compared"]
    missing: int  # entries missing at the end, against the latest anchor
    refused_anchor_lines: list[int]  # anchor lines whose signature does not verify
    latest_anchor: AnchorOut | None
    findings: list[FindingOut]
