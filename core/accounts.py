"""Users, roles, web sessions and API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise import fields
from tortoise.models import Model

from core import clock
from core.roles import ALL

ROLES = ALL
_hasher = PasswordHasher()
_dummy_hash: str | None = None
# Tokens issued before expiry existed, and a token issued without settings, last this long.
DEFAULT_TOKEN_DAYS = 30


class User(Model):
    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=64, unique=True)
    display_name = fields.CharField(max_length=100, default="")
    email = fields.CharField(max_length=200, default="")
    role = fields.CharField(max_length=16)
    unit = fields.ForeignKeyField("core.OrgUnit", related_name="users", null=True,
                                  on_delete=fields.RESTRICT)
    password_hash = fields.CharField(max_length=200)
    is_active = fields.BooleanField(default=True)
    language = fields.CharField(max_length=8, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "core_user"
        ordering = ["username"]

    def check_password(self, password: str) -> bool:
        try:
            return _hasher.verify(self.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def set_password(self, password: str) -> None:
        """Length only: the strength rules (core.passwords) apply where a person picks one."""
        if len(password) < 8:
            raise ValueError("password: at least 8 characters")
        self.password_hash = _hasher.hash(password)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def __str__(self) -> str:
        return self.username


class Session(Model):
    """A web login, kept in the database so every instance sees it."""

    token_hash = fields.CharField(max_length=64, primary_key=True)
    user = fields.ForeignKeyField("core.User", related_name="sessions", on_delete=fields.CASCADE)
    csrf_token = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    address = fields.CharField(max_length=64, default="")

    class Meta:
        table = "core_session"


class ApiToken(Model):
    id = fields.IntField(primary_key=True)
    user = fields.ForeignKeyField("core.User", related_name="tokens", on_delete=fields.CASCADE)
    name = fields.CharField(max_length=100, default="")
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    revoked = fields.BooleanField(default=False)
    # Null only for tokens issued before tokens expired; they count from created_at.
    expires_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "core_api_token"
        ordering = ["-id"]

    def expiry(self, days: int) -> dt.datetime:
        return self.expires_at or self.created_at + dt.timedelta(days=days)


class LoginCounter(Model):
    """One login-limit bucket when no Redis is configured: attempts in a fixed window."""

    bucket = fields.CharField(max_length=200, primary_key=True)
    count = fields.IntField(default=0)
    window_ends = fields.BigIntField()  # epoch seconds: compared alike on every database

    class Meta:
        table = "core_login_counter"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_user(username: str, password: str, role: str, *, display_name: str = "",
                      email: str = "", unit=None) -> User:
    if role not in ROLES:
        raise ValueError(f"role: '{role}' is not one of {', '.join(ROLES)}")
    if role == "unit_officer" and unit is None:
        raise ValueError("unit: a unit_officer must be bound to one org unit")
    if await User.exists(username=username):
        raise ValueError(f"username: '{username}' already exists")
    user = User(username=username, role=role, display_name=display_name or username,
                email=email, unit=unit)
    user.set_password(password)
    await user.save()
    return user


async def start_session(user: User, hours: int, address: str = "") -> tuple[str, Session]:
    token = secrets.token_urlsafe(32)
    session = await Session.create(
        token_hash=hash_token(token), user=user, csrf_token=secrets.token_urlsafe(24),
        expires_at=clock.now() + dt.timedelta(hours=hours), address=address)
    return token, session


async def session_user(token: str) -> tuple[User, Session] | None:
    session = await Session.get_or_none(token_hash=hash_token(token)).select_related("user")
    if session is None:
        return None
    if session.expires_at < clock.now() or not session.user.is_active:
        await session.delete()
        return None
    return session.user, session


def verify_login(user: User | None, password: str) -> bool:
    """Check a password; an unknown or disabled account costs one hash like a known one, so
    the answer time does not tell which user names exist."""
    global _dummy_hash
    if user is None or not user.is_active:
        if _dummy_hash is None:
            _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))
        try:
            _hasher.verify(_dummy_hash, password)
        except (VerificationError, InvalidHashError):
            pass
        return False
    return user.check_password(password)


def _token_days() -> int:
    from core import settings

    current = settings.current()
    return current.security.token_days if current else DEFAULT_TOKEN_DAYS


async def issue_token(user: User, name: str = "", days: int | None = None) -> tuple[str, ApiToken]:
    """A new bearer token (shown once; only its hash is kept) and its row."""
    token = "kh_" + secrets.token_urlsafe(32)
    row = await ApiToken.create(user=user, name=name[:100], token_hash=hash_token(token),
                                expires_at=clock.now() + dt.timedelta(days=days or _token_days()))
    return token, row


async def token_user(token: str) -> User | None:
    row = await ApiToken.get_or_none(token_hash=hash_token(token), revoked=False).select_related("user")
    if row is None or not row.user.is_active or row.expiry(_token_days()) <= clock.now():
        return None
    return row.user


async def end_logins(user: User, reason: str) -> tuple[int, int]:
    """End every web session and revoke every token of a user (password reset, disable, role
    change); each revoked token is audited by its id. Returns (sessions, tokens)."""
    from core import audit

    sessions = await Session.filter(user_id=user.id).delete()
    ids = await ApiToken.filter(user_id=user.id, revoked=False).values_list("id", flat=True)
    if ids:
        await ApiToken.filter(id__in=ids).update(revoked=True, revoked_at=clock.now())
        await audit.record_bulk("token.revoke", "api_token", ids, before={"revoked": False},
                                after={"revoked": True, "user": user.username}, reason=reason)
    return sessions, len(ids)


async def revoke_token(row: ApiToken) -> None:
    from core import audit

    await ApiToken.filter(id=row.id).update(revoked=True, revoked_at=clock.now())
    await audit.record("token.revoke", "api_token", row.id, before={"revoked": False},
                       after={"revoked": True, "user": row.user.username})
