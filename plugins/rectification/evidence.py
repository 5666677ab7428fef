"""Evidence files: checked for type and size, stored outside the database under random names.

Files live in `[rectification] evidence_dir` (default `<storage.evidence_dir>/rectification`)
so the database stays small and any instance sharing that folder serves them. The database
keeps the original name, size and SHA-256 of each file.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import downloads
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.orgs import get_open_period
from plugins.rectification.common import Actor, check_visible, get_task, now_utc
from plugins.rectification.config import RectificationSettings
from plugins.rectification.models import Evidence, ExtensionRequest, Task

CONTENT_TYPES = {ext: downloads.media_type(f"x.{ext}")
                 for ext in ("pdf", "jpg", "jpeg", "png", "doc", "xls", "docx", "xlsx", "txt")}
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# The file must start like its extension says: a renamed .exe or .html is refused.
MAGIC = {"pdf": (b"%PDF",), "png": (b"\x89PNG\r\n\x1a\n",), "jpg": (b"\xff\xd8\xff",),
         "jpeg": (b"\xff\xd8\xff",), "docx": (b"PK\x03\x04",), "xlsx": (b"PK\x03\x04",),
         "doc": (_OLE,), "xls": (_OLE,)}


def extension_of(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def _looks_like_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    for encoding in ("utf-8", "gb18030"):
        try:
            data.decode(encoding)
            return True
        except UnicodeDecodeError:
            continue
    return False


@dataclass
class EvidenceStore:
    folder: Path
    types: list[str]
    max_bytes: int
    max_files: int
    require: bool

    @classmethod
    def from_settings(cls, settings: Any = None) -> EvidenceStore:
        conf = (settings.plugin("rectification") if settings is not None else None) \
            or RectificationSettings()
        if settings is None:
            folder = Path("data/evidence/rectification")
        elif conf.evidence_dir:
            folder = settings.path(conf.evidence_dir)
        else:
            folder = settings.path(settings.storage.evidence_dir) / "rectification"
        return cls(folder, [t.lower().lstrip(".") for t in conf.evidence_types],
                   conf.max_evidence_kb * 1024, conf.max_files_per_upload, conf.require_evidence)

    def check_files(self, files: list[tuple[str, bytes]]) -> None:
        """Refuse the whole upload if any file is of a forbidden type or too large."""
        if len(files) > self.max_files:
            raise Invalid("too_many_files", f"evidence: at most {self.max_files} files at once "
                                            f"({len(files)} sent)", field="evidence")
        for name, data in files:
            ext = extension_of(name)
            if ext not in self.types or ext not in CONTENT_TYPES:
                raise Invalid("evidence_type", f"evidence: '{name}' is of a type that is not "
                                               f"accepted (allowed: {', '.join(self.types)})",
                              field="evidence",
                              params={"name": name, "allowed": "、".join(self.types)})
            if not data:
                raise Invalid("evidence_empty", f"evidence: '{name}' is empty", field="evidence",
                              params={"name": name})
            if len(data) > self.max_bytes:
                raise Invalid("evidence_too_large",
                              f"evidence: '{name}' is {len(data) / 1024:.0f} KB, more than the "
                              f"limit of {self.max_bytes // 1024} KB", field="evidence")
            magic = MAGIC.get(ext)
            ok = _looks_like_text(data) if ext == "txt" else any(data.startswith(m) for m in magic)
            if not ok:
                raise Invalid("evidence_type", f"evidence: the content of '{name}' is not a "
                                               f"{ext} file", field="evidence",
                              params={"name": name, "allowed": ext})

    def write(self, data: bytes, ext: str, written: list[Path]) -> tuple[str, str]:
        """Write the bytes under a random name; returns (stored name, sha256)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        stored = f"{secrets.token_hex(16)}.{ext}"
        target = self.folder / stored
        tmp = self.folder / f".{stored}.part"
        tmp.write_bytes(data)
        os.replace(tmp, target)
        written.append(target)
        return stored, hashlib.sha256(data).hexdigest()

    def path(self, evidence: Evidence) -> Path:
        return self.folder / evidence.stored_name


def remove_files(paths: list[Path]) -> None:
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


async def _store_all(task: Task, ctx: Any, extension: ExtensionRequest | None,
                     attached: bool) -> list[Evidence]:
    rows = []
    for name, data in ctx.files:
        stored, digest = ctx.store.write(data, extension_of(name), ctx.written)
        rows.append(await Evidence.create(
            task=task, extension=extension, round=task.fail_count, attached=attached,
            original_name=os.path.basename(name)[:200], stored_name=stored,
            content_type=CONTENT_TYPES[extension_of(name)], size=len(data), sha256=digest,
            uploaded_by=ctx.actor.name, uploaded_at=ctx.now))
    return rows


async def _drafts(task: Task, ids: Any) -> list[Evidence]:
    """Drafts uploaded earlier for this task: the given ids, or all of them when None."""
    qs = Evidence.filter(task_id=task.id, attached=False, extension_id=None)
    if ids is None:
        return await qs
    try:
        wanted = {int(i) for i in ids}
    except (TypeError, ValueError):
        raise Invalid("invalid_evidence", "evidence: a list of evidence ids",
                      field="evidence") from None
    found = await qs.filter(id__in=wanted)
    missing = wanted - {e.id for e in found}
    if missing:
        raise Invalid("unknown_evidence", f"evidence: no unattached file of task {task.number} "
                                          f"with id {', '.join(map(str, sorted(missing)))}",
                      field="evidence")
    return found


async def attach_for_response(task: Task, ctx: Any, ids: Any) -> list[int]:
    drafts = await _drafts(task, ids)
    new = await _store_all(task, ctx, None, attached=True)
    if drafts:
        await Evidence.filter(id__in=[e.id for e in drafts]).update(attached=True,
                                                                    round=task.fail_count)
    all_ids = [e.id for e in drafts] + [e.id for e in new]
    if ctx.store.require and not all_ids:
        raise Invalid("evidence_required", "evidence: attach at least one file showing the "
                                           "rectification", field="evidence")
    return all_ids


async def attach_for_extension(task: Task, req: ExtensionRequest, ctx: Any, ids: Any) -> list[int]:
    drafts = await _drafts(task, ids) if ids else []
    new = await _store_all(task, ctx, req, attached=True)
    if drafts:
        await Evidence.filter(id__in=[e.id for e in drafts]).update(attached=True,
                                                                    extension_id=req.id)
    return [e.id for e in drafts] + [e.id for e in new]


async def upload_drafts(task_id: int, actor: Actor, files: list[tuple[str, bytes]],
                        settings: Any = None) -> list[Evidence]:
    """API path: upload files first, then name them in `respond` or `request_extension`."""
    from plugins.rectification.workflow import Ctx  # the transition context shape

    store = EvidenceStore.from_settings(settings)
    task = await get_task(task_id)
    if actor.role != "unit_officer":
        raise Forbidden("role_not_allowed", "evidence is uploaded by the role unit_officer "
                                            f"(the responsible unit's officer), not {actor.role}")
    check_visible(actor, task)
    await get_open_period(task.period.code)
    if task.status != "dispatched":
        raise Conflict("transition_not_allowed", f"evidence can be added while the task is "
                                                 f"'dispatched', not '{task.status}'")
    if not files:
        raise Invalid("required", "evidence: no file sent", field="evidence")
    store.check_files(files)
    now = now_utc()
    ctx = Ctx(actor, now, now.date(), None, None, files, store)  # type: ignore[arg-type]
    try:
        return await _store_all(task, ctx, None, attached=False)
    except BaseException:
        remove_files(ctx.written)
        raise


async def open_evidence(evidence_id: int, actor: Actor, settings: Any) -> tuple[Evidence, Path]:
    """The file for a user who may see its task; 404 when the file is gone."""
    row = await Evidence.get_or_none(id=evidence_id)
    if row is None:
        raise NotFound("evidence_not_found", f"no evidence file with id {evidence_id}")
    await get_task(row.task_id, actor)  # raises 403 outside the user's scope
    path = EvidenceStore.from_settings(settings).path(row)
    if not path.exists():
        raise NotFound("evidence_missing", f"the file of evidence {evidence_id} "
                                           f"({row.original_name}) is missing from storage")
    return row, path
