"""Sending the queued mail through SMTP (aiosmtplib), with retries and back-off.

Right before it is sent, a message is claimed by moving its `next_attempt_at` past the
send (a lease), so two senders never take the same message; a sender that dies mid-send
leaves it due again once the lease ends. The server being down costs an attempt, never
the message.
"""

from __future__ import annotations

import datetime as dt
import logging
import mimetypes
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiosmtplib
from tortoise.expressions import Q

from core import audit, clock, downloads
from core.notify_models import MailMessage
from core.settings import Settings

log = logging.getLogger("kaohe.mail")
UTC = dt.UTC
MAX_BACKOFF = dt.timedelta(hours=12)
STATUSES = ("queued", "sent", "failed", "digest", "digested")


class PermanentError(Exception):
    """Retrying cannot help (the server refused with 5xx, the attachment is gone)."""


def backoff(settings: Settings, attempts: int) -> dt.timedelta:
    """Delay before the next attempt after `attempts` failed ones: base · 2^(attempts-1)."""
    base = dt.timedelta(seconds=settings.mail.retry_base_seconds)
    return min(base * 2 ** max(attempts - 1, 0), MAX_BACKOFF)


def local(settings: Settings, value: dt.datetime) -> dt.datetime:
    # SQLite keeps datetimes as text in the configured zone; filters must use that zone.
    return value.astimezone(ZoneInfo(settings.app.timezone))


def build_message(settings: Settings, mail: MailMessage) -> EmailMessage:
    sender = settings.mail.sender
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = mail.to_addr
    msg["Subject"] = mail.subject
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(idstring=f"kaohe.{mail.id}",
                                   domain=sender.rpartition("@")[2] or "localhost")
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(mail.body or "", charset="utf-8")
    if mail.attachment_path:
        path = settings.path(mail.attachment_path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PermanentError(f"attachment {mail.attachment_path}: {exc.strerror or exc}") from None
        name = mail.attachment_name or Path(mail.attachment_path).name
        ctype = downloads.media_type(name)
        if ctype == downloads.OCTET:
            ctype = mimetypes.guess_type(name)[0] or ctype
        maintype, _, subtype = ctype.split(";")[0].partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


class _Connection:
    """One SMTP session per batch; reopened after an error."""

    def __init__(self, settings: Settings):
        self.cfg = settings.mail
        self.smtp: aiosmtplib.SMTP | None = None

    async def open(self) -> None:
        if self.smtp is not None and self.smtp.is_connected:
            return
        cfg = self.cfg
        self.smtp = aiosmtplib.SMTP(
            hostname=cfg.host, port=cfg.port, use_tls=cfg.use_tls,
            start_tls=False if cfg.use_tls else cfg.start_tls, timeout=cfg.timeout_seconds,
            username=cfg.username or None, password=cfg.password or None)
        await self.smtp.connect()

    async def send(self, message: EmailMessage) -> None:
        await self.smtp.send_message(message)

    async def close(self) -> None:
        if self.smtp is not None and self.smtp.is_connected:
            try:
                await self.smtp.quit()
            except Exception:
                self.smtp.close()
        self.smtp = None


def _smtp_code(exc: Exception) -> int | None:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        return exc.recipients[0].code
    return getattr(exc, "code", None) if isinstance(exc, aiosmtplib.SMTPResponseException) else None


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def _due(settings: Settings, now: dt.datetime) -> Q:
    return Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=local(settings, now))


async def _claim(settings: Settings, mail: MailMessage, now: dt.datetime) -> bool:
    """Take one message for one send: a single UPDATE … WHERE still due, so only one sender
    wins it. Claimed just before sending, the lease only has to cover one send."""
    lease = local(settings, now + dt.timedelta(seconds=settings.mail.timeout_seconds * 3 + 60))
    return bool(await MailMessage.filter(_due(settings, now), id=mail.id, status="queued")
                .update(next_attempt_at=lease))


async def send_due(settings: Settings, now: dt.datetime | None = None,
                   limit: int = 200) -> dict[str, Any]:
    """Send the queued mail that is due; returns {"sent": [ids], "retry": [ids], "failed": [ids]}."""
    now = now or clock.now()
    outcome: dict[str, list[int]] = {"sent": [], "retry": [], "failed": []}
    candidates = await MailMessage.filter(_due(settings, now), status="queued").order_by(
        "id").limit(limit)
    conn = _Connection(settings)
    server_error: str | None = None
    try:
        for mail in candidates:
            if not await _claim(settings, mail, now):
                continue  # another sender has it
            if server_error is not None:
                # The server was not there a moment ago: this message waits for the next try.
                await _failed(settings, mail, server_error, False, now, outcome)
                continue
            try:
                message = build_message(settings, mail)
            except PermanentError as exc:
                await _failed(settings, mail, str(exc), True, now, outcome)
                continue
            try:
                await conn.open()
            except Exception as exc:
                server_error = _describe(exc)
                log.warning("mail server %s:%s: %s", settings.mail.host, settings.mail.port,
                            server_error)
                await _failed(settings, mail, server_error, False, now, outcome)
                continue
            try:
                await conn.send(message)
            except Exception as exc:
                code = _smtp_code(exc)
                await _failed(settings, mail, _describe(exc), bool(code and 500 <= code < 600),
                              now, outcome)
                await conn.close()
                continue
            await MailMessage.filter(id=mail.id).update(
                status="sent", sent_at=clock.now(), attempts=mail.attempts + 1,
                next_attempt_at=None)
            outcome["sent"].append(mail.id)
    finally:
        await conn.close()
    # One entry per message, so each mail's history is found under its own id.
    await audit.record_many("mail.send", "mail", [
        (mid, None, {"result": result}) for result, ids in outcome.items() for mid in ids])
    return outcome


async def _failed(settings: Settings, mail: MailMessage, error: str, permanent: bool,
                  now: dt.datetime, outcome: dict[str, list[int]]) -> None:
    attempts = mail.attempts + 1
    if permanent or attempts >= settings.mail.max_attempts:
        await MailMessage.filter(id=mail.id).update(status="failed", attempts=attempts,
                                                    last_error=error, next_attempt_at=None)
        outcome["failed"].append(mail.id)
        log.error("mail %s to %s failed for good after %d attempts: %s", mail.id, mail.to_addr,
                  attempts, error)
        return
    retry_at = now + backoff(settings, attempts)
    await MailMessage.filter(id=mail.id).update(attempts=attempts, last_error=error,
                                                next_attempt_at=local(settings, retry_at))
    outcome["retry"].append(mail.id)
