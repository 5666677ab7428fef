"""Notifications: in-app inbox and queued mail. Plugins call `notify()`."""

from __future__ import annotations

from collections.abc import Iterable

from tortoise.exceptions import IntegrityError

from core.accounts import User
from core.contrib import JobSpec
from core.notify_models import InboxMessage, MailMessage
from core.settings import Settings


async def notify(users: Iterable[User], subject: str, body: str = "", *, key: str,
                 link: str = "", mail: bool = True, digest: bool = False) -> int:
    """Tell each user once per event `key`; returns how many were newly told."""
    told = 0
    for user in users:
        try:
            await InboxMessage.create(user=user, subject=subject[:200], body=body, link=link,
                                      event_key=key, digest=digest)
        except IntegrityError:
            continue  # the same event never notifies the same person twice
        told += 1
        if mail and user.email:
            await MailMessage.create(to_addr=user.email, subject=subject[:200], body=body,
                                     event_key=key, status="digest" if digest else "queued")
    return told


def core_jobs(settings: Settings) -> list[JobSpec]:
    return []
