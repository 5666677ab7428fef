"""Anchors of the audit trail outside the database, so removing its newest entries shows.

The hash chain reveals an entry altered or removed in the middle, but not the newest entries
removed together (what is left is still a valid chain), nor a chain recomputed from some
entry on (the entry hash has no secret). So once a day the `core.audit_anchor` job writes the
chain's head — entry count, last id, last hash — signed with HMAC-SHA256, as one JSON line
appended to `[storage] audit_anchor_file`, and puts the same line in the admins' mail digest.
`check()` walks the chain and compares it with the latest anchor.

The key is derived from `[app] secret_key` with a purpose label: that secret already lives
outside the database (settings file or environment) and must be kept anyway; a second key
would be one more secret to keep and back up. Each line names its key (`key_id`), so after a
key change the old lines are reported as signed with another key rather than as forgeries.
"""

from __future__ import annotations

import asyncio
import dataclasses
import fcntl
import hashlib
import hmac
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from tortoise.transactions import in_transaction

from core import audit, clock, i18n
from core.contrib import JobSpec
from core.settings import DEFAULT_SECRETS, Settings

VERSION = 1
LABEL = b"kaohe.audit.anchor.v1"
TRIGGER = "50 7 * * *"  # ten minutes before the 08:00 digest, which then carries it
SIGNED = ("v", "at", "count", "head_id", "head_hash", "key_id")
MAX_LINE = 4096  # an anchor is about 250 bytes; anything far longer is not one


class AnchorError(Exception):
    """The anchor file cannot be used (a settings problem), with the reason."""


def _key(settings: Settings) -> bytes:
    return hmac.new(settings.app.secret_key.encode(), LABEL, hashlib.sha256).digest()


def key_id(key: bytes) -> str:
    return hmac.new(key, b"key-id", hashlib.sha256).hexdigest()[:12]


def _signature(data: dict[str, Any], key: bytes) -> str:
    body = json.dumps({k: data.get(k) for k in SIGNED}, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def anchor_path(settings: Settings) -> Path:
    """The configured file; refused inside the SQLite database's own folder, whose copies
    and restores would carry the anchors along with the entries they vouch for."""
    path = settings.path(settings.storage.audit_anchor_file)
    url = settings.database.url
    if url.startswith("sqlite://") and url != "sqlite://:memory:":
        db_dir = settings.path(url[len("sqlite://"):]).resolve().parent
        if path.resolve().parent == db_dir:
            raise AnchorError(f"storage.audit_anchor_file: {path} is in the database's folder "
                              f"{db_dir}; put the anchors in a folder of their own")
    return path


@dataclasses.dataclass
class Anchor:
    line: int
    data: dict[str, Any]
    problem: str = ""  # "" | "signature" | "other_key" | "unreadable"


def read_anchors(path: Path, key: bytes) -> list[Anchor]:
    """Every line of the file, each checked against the key (newest last)."""
    if not path.exists():
        return []
    out = []
    with path.open("rb") as f:
        for n, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                if len(raw) > MAX_LINE:
                    raise ValueError("too long")
                data = json.loads(raw)
                if not isinstance(data, dict) or data.get("v") != VERSION:
                    raise ValueError("not an anchor")
                for name in ("count", "head_id"):
                    if type(data.get(name)) is not int or data[name] < 0:
                        raise ValueError(name)
                if not all(isinstance(data.get(k), str) for k in ("at", "head_hash", "sig")):
                    raise ValueError("fields")
            except ValueError:  # json.JSONDecodeError and UnicodeDecodeError included
                out.append(Anchor(n, {}, "unreadable"))
                continue
            if data.get("key_id") != key_id(key):
                problem = "other_key"
            elif not hmac.compare_digest(str(data["sig"]), _signature(data, key)):
                problem = "signature"
            else:
                problem = ""
            out.append(Anchor(n, data, problem))
    return out


def _append(path: Path, line: str) -> None:
    """Add one line atomically: the whole file is rewritten beside itself and renamed over
    the old one, so a reader or a crash sees the file before or after, never half a line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two writers at once would lose a line
        old = path.read_bytes() if path.exists() else b""
        if old and not old.endswith(b"\n"):
            old += b"\n"
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(old + line.encode() + b"\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)  # the rename itself survives a power cut
        finally:
            os.close(folder)


async def write_anchor(settings: Settings) -> dict[str, Any]:
    """Anchor the chain's current head; the anchoring itself is the next entry of the trail."""
    path, key = anchor_path(settings), _key(settings)
    async with in_transaction() as conn:
        count, head_id, head_hash = await audit.chain_head(conn)
        data = {"v": VERSION, "at": clock.now().replace(microsecond=0).isoformat(),
                "count": count, "head_id": head_id, "head_hash": head_hash,
                "key_id": key_id(key)}
        data["sig"] = _signature(data, key)
        line = json.dumps(data, sort_keys=True, separators=(",", ":"))
        await asyncio.to_thread(_append, path, line)
        # Written after the file: a failed write leaves no entry claiming an anchor.
        await audit.record("audit.anchor", "audit_anchor", data["at"][:19], after=data)
    return {**data, "line": line, "path": str(path)}


async def mail_admins(anchor: dict[str, Any]) -> int:
    """The anchor line in each active admin's digest: a copy no database user can reach."""
    from core.accounts import User
    from core.notify import notify

    admins = await User.filter(role="admin", is_active=True)
    lang = i18n.DEFAULT
    return await notify(admins, i18n.t("audit_verify.mail_subject", lang, count=anchor["count"],
                                       at=_local(anchor["at"])),
                        i18n.t("audit_verify.mail_body", lang, line=anchor["line"],
                               path=anchor["path"]),
                        key=f"audit.anchor:{anchor['at']}", link="/audit/verify", digest=True)


async def _job(ctx: Any) -> dict[str, Any]:
    anchor = await write_anchor(ctx.settings)
    told = await mail_admins(anchor)
    return {"count": anchor["count"], "head_id": anchor["head_id"], "path": anchor["path"],
            "admins_told": told}


def jobs(settings: Settings) -> list[JobSpec]:
    return [JobSpec("core.audit_anchor", _job, TRIGGER,
                    "审计日志每日锚点：记录条数与末条哈希（签名）写入库外文件并发给管理员")]


# -- checking ---------------------------------------------------------------------------------

@dataclasses.dataclass
class Check:
    walk: audit.Walk
    path: str
    latest: Anchor | None = None  # the newest anchor whose signature verifies
    anchor: Anchor | None = None  # the one the state is about: the newest that fails, or latest
    state: str = "none"  # none | file_missing | match | missing | rewritten | not_compared
    missing: int = 0
    kept: int = 0
    failing: int = 0  # valid anchors the chain does not contain
    bad: list[Anchor] = dataclasses.field(default_factory=list)
    recorded: int = 0  # anchors the trail says were written
    default_key: bool = False

    @property
    def ok(self) -> bool:
        return (self.walk.broken is None and not self.bad
                and self.state in ("none", "match"))


def _state(anchor: Anchor, found: audit.Walk) -> str:
    a = anchor.data
    if a["count"] == 0 or found.at.get(a["count"]) == (a["head_id"], a["head_hash"]):
        return "match"
    if found.broken is not None and found.checked < a["count"]:
        return "not_compared"  # the break comes first; what follows it is unknown
    return "missing" if found.kept[a["head_id"]] < a["count"] else "rewritten"


async def check(settings: Settings, path: Path | None = None) -> Check:
    """Walk the chain and compare it with every anchor of `path` (default: the configured
    file; or another copy, such as one saved from the mail digest) whose signature verifies.

    Every anchor, not only the newest: a later anchor written after entries were removed
    vouches for the shortened chain, while the earlier ones still show the loss.
    """
    path = path or anchor_path(settings)
    anchors = await asyncio.to_thread(read_anchors, path, _key(settings))
    valid = [a for a in anchors if not a.problem]
    found = await audit.walk(positions=[a.data["count"] for a in valid],
                             upto_ids=[a.data["head_id"] for a in valid])
    out = Check(found, str(path), latest=valid[-1] if valid else None,
                bad=[a for a in anchors if a.problem],
                default_key=settings.app.secret_key in DEFAULT_SECRETS)
    if not valid:
        out.recorded = await audit.AuditEntry.filter(action="audit.anchor").count()
        out.state = "file_missing" if out.recorded and not anchors else "none"
        return out
    states = [(a, _state(a, found)) for a in valid]
    failed = [(a, st) for a, st in states if st != "match"]
    out.failing = len(failed)
    out.anchor, out.state = failed[-1] if failed else states[-1]
    head = out.anchor.data
    out.kept = found.kept[head["head_id"]]
    if out.state == "missing":
        out.missing = head["count"] - out.kept
    return out


def _local(at: str) -> str:
    import datetime as dt

    return dt.datetime.fromisoformat(at).astimezone(clock.tz()).strftime("%Y-%m-%d %H:%M:%S")


def describe(result: Check, lang: str) -> list[tuple[str, str]]:
    """(level, message) lines: level is "ok", "warn" or "error"."""
    t = lambda key, **kw: i18n.t(f"audit_verify.{key}", lang, **kw)  # noqa: E731
    w, lines = result.walk, []
    if w.broken is None:
        lines.append(("ok", t("intact", n=w.checked)))
    else:
        b = w.broken
        lines.append(("error", t("broken", id=b.id, action=b.action, object_type=b.object_type,
                                 object_id=b.object_id, why=t(f"why_{w.kind}"),
                                 checked=w.checked)))
    a = result.anchor.data if result.anchor else {}
    at = _local(a["at"]) if a else ""
    if result.state == "none":
        lines.append(("warn", t("no_anchor", path=result.path)))
    elif result.state == "file_missing":
        lines.append(("error", t("file_missing", path=result.path, n=result.recorded)))
    elif result.state == "match":
        lines.append(("ok", t("anchor_match", at=at, count=a["count"], head_id=a["head_id"])))
    elif result.state == "missing":
        lines.append(("error", t("missing", n=result.missing, at=at, count=a["count"],
                                 head_id=a["head_id"], kept=result.kept)))
    elif result.state == "rewritten":
        lines.append(("error", t("rewritten", at=at, count=a["count"], head_id=a["head_id"])))
    else:
        lines.append(("error", t("not_compared", at=at, count=a["count"])))
    if result.failing > 1:
        lines.append(("error", t("failing", n=result.failing)))
    for bad in result.bad:
        lines.append(("error", t(f"bad_{bad.problem}", line=bad.line, path=result.path)))
    if result.default_key:
        lines.append(("warn", t("default_key")))
    return lines
