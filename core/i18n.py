"""The one message catalog: core/locale/*.toml plus what plugins add via `kaohe_messages`."""

from __future__ import annotations

import tomllib
from pathlib import Path

LANGUAGES = ("zh", "en")
DEFAULT = "zh"
_catalog: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}


def _flatten(data: dict, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in data.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, full + "."))
        else:
            out[full] = str(value)
    return out


def load_core() -> None:
    base = Path(__file__).parent / "locale"
    for lang in LANGUAGES:
        _catalog[lang].update(_flatten(tomllib.loads((base / f"{lang}.toml").read_text("utf-8"))))


def add(messages: dict[str, dict[str, str]]) -> None:
    for lang, entries in messages.items():
        _catalog.setdefault(lang, {}).update(_flatten(entries))


def t(key: str, lang: str = DEFAULT, **params: object) -> str:
    """Translate; falls back to Chinese, then to the key itself so a gap is visible."""
    text = _catalog.get(lang, {}).get(key) or _catalog[DEFAULT].get(key) or key
    return text.format(**params) if params else text


def job_about(job_id: str, lang: str = DEFAULT, default: str | None = None) -> str:
    """What a scheduled job does, in words: `jobs.about.NAME` (core) or `PLUGIN.job.NAME`;
    without one, `default` (the job's own description) or its id."""
    plugin, _, name = job_id.partition(".")
    key = f"jobs.about.{name}" if plugin == "core" else f"{plugin}.job.{name}"
    return t(key, lang) if key in _catalog[DEFAULT] else (default or job_id)


def actor(name: str | None, lang: str = DEFAULT) -> str:
    """Who did something, as a reader says it: a scheduled job ("job:ID", how the scheduler
    acts) by what it does, a person at the command line ("cli:NAME") as such; people by their name."""
    if name and name.startswith("job:"):
        return t("common.by_job", lang, job=job_about(name[4:], lang))
    if name and name.startswith("cli:"):
        return t("common.by_cli", lang, name=name[4:])
    return name or ""


def exporter_title(exporter, lang: str = DEFAULT) -> str:
    """A workbook's or document's title in the reader's language: the plugin's
    `PLUGIN.exporter_title.NAME` where it has one, else the title the exporter declares."""
    key = f"{exporter.name.split('-', 1)[0]}.exporter_title.{exporter.name}"
    return t(key, lang) if key in _catalog.get(lang, {}) else exporter.title


def missing(lang: str) -> list[str]:
    return sorted(set(_catalog[DEFAULT]) - set(_catalog.get(lang, {})))


load_core()


def error_key(code: str, lang: str = DEFAULT) -> str | None:
    """The catalog key of an error code: `errors.CODE` (core) or `PLUGIN.errors.CODE`."""
    entries = _catalog.get(lang, {})
    if f"errors.{code}" in entries:
        return f"errors.{code}"
    suffix = f".errors.{code}"
    return next((k for k in entries if k.endswith(suffix)), None)


def error_text(code: str, lang: str, params: dict | None = None) -> str | None:
    """The user's-language text of an error code with its values, or None when the code has
    no catalog text (or the raiser did not give a value the text names)."""
    key = error_key(code, lang) or error_key(code, DEFAULT)
    if key is None:
        return None
    text = _catalog.get(lang, {}).get(key) or _catalog[DEFAULT][key]
    try:
        return text.format(**(params or {}))
    except (KeyError, IndexError):
        return None
