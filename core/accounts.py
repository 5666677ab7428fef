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

ROLES = ("admin", "instructor", "unit_officer", "leader")
_hasher = PasswordHasher()


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

    class Meta:
        table = "core_api_token"


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


async def issue_token(user: User, name: str = "") -> str:
    token = "kh_" + secrets.token_urlsafe(32)
    await ApiToken.create(user=user, name=name, token_hash=hash_token(token))
    return token


async def token_user(token: str) -> User | None:
    row = await ApiToken.get_or_none(token_hash=hash_token(token), revoked=False).select_related("user")
    if row is None or not row.user.is_active:
        return None
    return row.user
