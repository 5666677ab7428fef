"""Instance settings: settings.toml, overridden by KAOHE_SECTION__KEY environment variables.

Core sections are typed msgspec structs; each plugin contributes the struct of its own
section through the `kaohe_settings_schema` hook. Validation errors name the key path.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any

import msgspec

ENV_PREFIX = "KAOHE_"
DEFAULT_FILE = "settings.toml"


class SettingsError(Exception):
    """A settings problem, reported as one line naming the key."""


# Secret keys that ship with kaohe (the struct's default, the committed settings.toml's):
# an instance still using one is warned about (check-config, the audit check page).
DEFAULT_SECRETS = ("dev-secret-change-me", "change-me-in-production")


class AppSettings(msgspec.Struct, forbid_unknown_fields=True):
    name: str = "kaohe"
    secret_key: str = "dev-secret-change-me"
    language: str = "zh"
    timezone: str = "Asia/Shanghai"
    # Pin the platform clock to a day (yyyy-mm-dd) for a demo or training instance; "" = real time.
    today: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    # Processes of `kaohe serve` (--workers): 0 = one per core on PostgreSQL, 1 on SQLite.
    workers: Annotated[int, msgspec.Meta(ge=0, le=64)] = 0
    data_dir: str = "data"
    debug: bool = False
    # The address people reach the platform at; links in mail are made absolute with it.
    base_url: str = "http://127.0.0.1:8000"


class DatabaseSettings(msgspec.Struct, forbid_unknown_fields=True):
    url: str = "sqlite://data/kaohe.sqlite3"
    auto_migrate: bool = True


class SchedulerSettings(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool = True
    misfire_grace_seconds: int = 3600
    # Job id → cron rule, replacing the rule a plugin or the definition gave that job.
    triggers: dict[str, str] = {}


class MailSettings(msgspec.Struct, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = 25
    use_tls: bool = False
    start_tls: bool = False
    username: str = ""
    password: str = ""
    sender: str = "kaohe@localhost"
    timeout_seconds: float = 10.0
    max_attempts: int = 6
    retry_base_seconds: int = 60


Positive = Annotated[int, msgspec.Meta(ge=1)]


class SecuritySettings(msgspec.Struct, forbid_unknown_fields=True):
    session_hours: Positive = 12
    # API tokens stop working this many days after they are issued.
    token_days: Positive = 30
    # Failed logins allowed per (account, address) and per account from any address within
    # the window; past them the account is refused there until the window ends.
    login_max_failures: Positive = 5
    login_account_max_failures: Positive = 20
    login_window_seconds: Positive = 900
    # An address (an office behind one NAT) is slowed down, never locked: past this many
    # attempts in a minute it gets 429 with Retry-After until the minute ends.
    login_address_per_minute: Positive = 30
    # Login counters live here when set (shared by every instance), else in the database.
    redis_url: str = ""
    secure_cookies: bool = False


class StorageSettings(msgspec.Struct, forbid_unknown_fields=True):
    evidence_dir: str = "data/evidence"
    reports_dir: str = "data/reports"
    max_upload_mb: int = 20
    max_upload_rows: int = 100_000
    # Daily anchors of the audit trail (JSON lines), in a folder apart from the database and
    # its backups: docs/deploy.md.
    audit_anchor_file: str = "anchors/audit-anchors.jsonl"


class PluginsSettings(msgspec.Struct, forbid_unknown_fields=True):
    disabled: list[str] = []
    required: list[str] = []


class CoreSettings(msgspec.Struct, forbid_unknown_fields=True):
    app: AppSettings = msgspec.field(default_factory=AppSettings)
    database: DatabaseSettings = msgspec.field(default_factory=DatabaseSettings)
    scheduler: SchedulerSettings = msgspec.field(default_factory=SchedulerSettings)
    mail: MailSettings = msgspec.field(default_factory=MailSettings)
    security: SecuritySettings = msgspec.field(default_factory=SecuritySettings)
    storage: StorageSettings = msgspec.field(default_factory=StorageSettings)
    plugins: PluginsSettings = msgspec.field(default_factory=PluginsSettings)


CORE_SECTIONS = {f for f in CoreSettings.__struct_fields__}


class Settings:
    """Validated settings: `core` sections plus one validated object per plugin section."""

    def __init__(self, core: CoreSettings, raw: dict[str, Any], source: Path | None):
        self.core = core
        self.raw = raw
        self.source = source
        self.plugin_sections: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        # settings.app, settings.database … read through to the core struct
        return getattr(self.core, name)

    def plugin(self, name: str) -> Any:
        return self.plugin_sections.get(name)

    @property
    def base_dir(self) -> Path:
        return self.source.parent if self.source else Path.cwd()

    def path(self, value: str) -> Path:
        """Resolve a relative path setting against the settings file's folder."""
        p = Path(value)
        return p if p.is_absolute() else self.base_dir / p


def _parse_env_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_env(raw: dict[str, Any], environ: dict[str, str]) -> dict[str, Any]:
    """KAOHE_DATABASE__URL=… sets raw['database']['url']; deeper keys use more '__'."""
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX) or "__" not in key:
            continue
        path = [p.lower() for p in key[len(ENV_PREFIX) :].split("__")]
        node = raw
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise SettingsError(f"{key}: {'.'.join(path[:-1])} is not a section")
        node[path[-1]] = _parse_env_value(value)
    return raw


def _friendly(err: msgspec.ValidationError, prefix: str = "") -> str:
    text = str(err)
    where = ""
    if " - at `$" in text:
        text, _, where = text.partition(" - at `$")
        where = where.rstrip("`").lstrip(".")
    key = ".".join(p for p in (prefix, where) if p)
    text = text.replace("Object contains unknown field", "unknown key")
    return f"settings: {key or '(root)'}: {text}"


_current: Settings | None = None


def current() -> Settings | None:
    """The settings the process booted with (set by core.boot)."""
    return _current


def set_current(settings: Settings) -> None:
    global _current
    _current = settings


def find_settings_file(explicit: str | os.PathLike | None = None) -> Path | None:
    if explicit:
        return Path(explicit)
    env = os.environ.get("KAOHE_SETTINGS")
    if env:
        return Path(env)
    candidate = Path.cwd() / DEFAULT_FILE
    return candidate if candidate.exists() else None


def load_settings(
    path: str | os.PathLike | None = None, environ: dict[str, str] | None = None
) -> Settings:
    """Read, override and validate the core sections. Plugin sections are checked later."""
    source = find_settings_file(path)
    raw: dict[str, Any] = {}
    if source is not None:
        if not source.exists():
            raise SettingsError(f"settings: file {source} does not exist")
        if not source.is_file():
            raise SettingsError(f"settings: {source} is a folder, not a settings file")
        try:
            raw = tomllib.loads(source.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"settings: {source.name}: not valid TOML: {exc}") from None
    raw = apply_env(raw, dict(os.environ if environ is None else environ))
    core_raw = {k: v for k, v in raw.items() if k in CORE_SECTIONS}
    app = core_raw.get("app")
    if isinstance(app, dict) and not isinstance(app.get("today", ""), str):
        app["today"] = str(app["today"])  # a bare TOML date (today = 2014-12-31) reads as text
    try:
        core = msgspec.convert(core_raw, CoreSettings)
    except msgspec.ValidationError as exc:
        raise SettingsError(_friendly(exc)) from None
    check_database_url(core.database.url, "settings: database.url")
    return Settings(core, raw, source.resolve() if source else None)


DATABASE_SCHEMES = ("sqlite", "postgres", "postgresql", "asyncpg")


def check_database_url(url: str, where: str) -> str:
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in DATABASE_SCHEMES:
        raise SettingsError(f"{where}: unknown database scheme {scheme or url!r} (use "
                            "sqlite://FILE or postgres://USER:PASSWORD@HOST:PORT/DB)")
    if scheme == "sqlite" and url[len("sqlite://"):] == "":
        raise SettingsError(f"{where}: sqlite:// needs a file, e.g. sqlite://data/kaohe.sqlite3")
    return url


def database_option(value: str) -> str:
    """The global --database option: a URL, or the path of an existing SQLite file (taken from
    the current folder, where the user typed it). A SQLite file that does not exist is refused,
    so a misspelt name never creates an empty database."""
    url = value if "://" in value else f"sqlite://{value}"
    check_database_url(url, "--database")
    if url.startswith("sqlite://") and url != "sqlite://:memory:":
        path = Path(url[len("sqlite://"):]).expanduser().resolve()
        if not path.is_file():
            raise SettingsError(f"--database: no SQLite database at {path}")
        url = f"sqlite://{path}"
    return url


def validate_plugin_sections(settings: Settings, schemas: dict[str, Any]) -> None:
    """Check each plugin section against its schema; unknown sections are errors."""
    disabled = set(settings.plugins.disabled)
    for section in settings.raw:
        if section in CORE_SECTIONS or section in schemas or section in disabled:
            continue
        raise SettingsError(
            f"settings: [{section}]: unknown section (no such plugin is loaded; "
            f"known: {', '.join(sorted(CORE_SECTIONS | set(schemas)))})"
        )
    for name, schema in schemas.items():
        value = settings.raw.get(name, {})
        if not isinstance(value, dict):
            raise SettingsError(f"settings: {name}: expected a section, got {type(value).__name__}")
        if schema is None:
            if value:
                raise SettingsError(f"settings: [{name}]: this plugin takes no settings")
            settings.plugin_sections[name] = None
            continue
        try:
            settings.plugin_sections[name] = msgspec.convert(value, schema)
        except msgspec.ValidationError as exc:
            raise SettingsError(_friendly(exc, prefix=name)) from None
