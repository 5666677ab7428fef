"""Notifications: in-app inbox and queued mail. Plugins call `notify()`.

Each event key reaches a person once: the inbox row is unique per (user, event key), and a
mail is queued only together with a new inbox row. Mail waits in the database until the
`core.mail` job sends it (core/mailer.py); digest messages wait for the daily `core.digest`
job, which groups a person's messages into one mail.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from core import audit, clock, i18n
from core.accounts import User
from core.contrib import JobSpec
from core.mailer import send_due  # noqa: F401  (re-exported: plugins send through notify)
from core.notify_models import InboxMessage, MailMessage
from core.settings import Settings
from core.settings import current as current_settings

UTC = dt.UTC
MAIL_TRIGGER = "* * * * *"
DIGEST_TRIGGER = "0 8 * * *"


def _lang(user: User) -> str:
    return user.language if user.language in i18n.LANGUAGES else i18n.DEFAULT


def _check_key(key: str) -> str:
    key = (key or "").strip()
    if not key:
        raise ValueError("notify: key is required (the event key makes delivery once-only)")
    if len(key) > 200:
        raise ValueError(f"notify: key is longer than 200 characters: {key[:40]}…")
    return key


def _entry(subject: str, body: str, link: str, lang: str) -> str:
    text = subject if not body else f"{subject}\n\n{body}"
    if link.startswith("/"):
        settings = current_settings()
        if settings is not None:
            link = settings.app.base_url.rstrip("/") + link
    return f"{text}\n\n{i18n.t('mail.link', lang, link=link)}" if link else text


async def notify(users: Iterable[User], subject: str, body: str = "", *, key: str,
                 link: str = "", mail: bool = True, digest: bool = False) -> int:
    """Tell each active user once per event `key`; returns how many were newly told.

    Safe inside a surrounding transaction: each user's rows are written in a savepoint,
    so a duplicate never aborts the caller's transaction on PostgreSQL.
    """
    key = _check_key(key)
    if not subject.strip():
        raise ValueError("notify: subject is empty")
    told = 0
    seen: set[int] = set()
    for user in users:
        if user.id in seen or not user.is_active:
            continue
        seen.add(user.id)
        if await InboxMessage.exists(user_id=user.id, event_key=key):
            continue  # the same event never notifies the same person twice
        try:
            async with in_transaction():
                await InboxMessage.create(user_id=user.id, subject=subject[:200], body=body,
                                          link=link[:300], event_key=key, digest=digest)
                if mail and user.email:
                    lang = _lang(user)
                    text = _entry(subject, body, link, lang)
                    if not digest:
                        text = f"{text}\n\n{i18n.t('mail.footer', lang)}"
                    await MailMessage.create(to_addr=user.email, subject=subject[:200],
                                             body=text, event_key=key,
                                             status="digest" if digest else "queued",
                                             next_attempt_at=None if digest else _now())
        except IntegrityError:
            continue  # told by a concurrent call a moment ago
        told += 1
    return told


def _now() -> dt.datetime:
    return clock.now()


def _check_addr(to_addr: str) -> str:
    addr = (to_addr or "").strip()
    name, _, domain = addr.rpartition("@")
    if not name or "." not in domain or any(c in addr for c in " ,;<>\r\n"):
        raise ValueError(f"to_addr: '{to_addr}' is not a mail address")
    return addr


async def queue_mail(to_addr: str, subject: str, body: str = "", attachment_path: str | None = None,
                     attachment_name: str | None = None, key: str = "") -> MailMessage:
    """Queue one mail (for reports with a workbook attached). With a `key`, the same
    (address, key) is queued once: the existing message is returned."""
    addr = _check_addr(to_addr)
    if not subject.strip():
        raise ValueError("subject: empty")
    if key:
        key = _check_key(key)
        existing = await MailMessage.filter(to_addr=addr, event_key=key).first()
        if existing is not None:
            return existing
    if attachment_path is not None and not attachment_path:
        raise ValueError("attachment_path: empty")
    return await MailMessage.create(
        to_addr=addr, subject=subject[:200], body=body, event_key=key,
        attachment_path=attachment_path or "", attachment_name=(attachment_name or "")[:200],
        status="queued", next_attempt_at=_now())


async def build_digests(settings: Settings, now: dt.datetime | None = None) -> dict[str, Any]:
    """Group each person's held digest messages into one queued mail."""
    now = now or _now()
    day = now.astimezone(ZoneInfo(settings.app.timezone)).date().isoformat()
    held = await MailMessage.filter(status="digest").order_by("id")
    by_addr: dict[str, list[MailMessage]] = {}
    for m in held:
        by_addr.setdefault(m.to_addr, []).append(m)
    made: list[int] = []
    for addr, rows in by_addr.items():
        lang = i18n.DEFAULT
        parts = [i18n.t("mail.digest_intro", lang, date=day, count=len(rows))]
        for n, m in enumerate(rows, 1):
            parts.append(f"{n}. " + m.body.replace("\n", "\n   "))
        parts.append(i18n.t("mail.footer", lang))
        ids = [m.id for m in rows]
        async with in_transaction():
            # Only the rows still held: a concurrent run that took them makes this one a no-op.
            taken = await MailMessage.filter(id__in=ids, status="digest").update(status="digested")
            if taken != len(ids):
                raise RuntimeError(f"digest of {addr}: {len(ids) - taken} messages were taken "
                                   "by another run")
            digest = await MailMessage.create(
                to_addr=addr, subject=i18n.t("mail.digest_subject", lang, date=day,
                                             count=len(rows))[:200],
                body="\n\n".join(parts), event_key=f"digest:{day}:{addr}"[:200],
                status="queued", next_attempt_at=now)
            # Each message taken and the digest made of them, under their own ids.
            await audit.record_many("mail.digest", "mail", [
                *((i, {"status": "digest"}, {"status": "digested", "digest": digest.id})
                  for i in ids),
                (digest.id, None, {"status": "queued", "messages": ids})])
        made.append(digest.id)
    return {"digests": made, "messages": len(held)}


async def _mail_job(ctx) -> dict[str, Any]:
    return await send_due(ctx.settings)


async def _digest_job(ctx) -> dict[str, Any]:
    return await build_digests(ctx.settings, ctx.now)


def core_jobs(settings: Settings) -> list[JobSpec]:
    from core import audit_anchor  # its anchor goes out in the digest

    return [
        JobSpec("core.mail", _mail_job, MAIL_TRIGGER, "发送待发邮件（失败自动重试）"),
        JobSpec("core.digest", _digest_job, DIGEST_TRIGGER, "每日消息汇总邮件"),
        *audit_anchor.jobs(settings),
    ]
