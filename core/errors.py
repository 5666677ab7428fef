"""Errors with stable codes: JSON for the API, a page for people."""

from __future__ import annotations

import re
from typing import Any

_CJK = re.compile(r"[\u4e00-\u9fff]")
_ENGLISH = re.compile(r"[A-Za-z]{2,}(?: [A-Za-z]{2,}){2,}")  # three English words in a row


class KaoheError(Exception):
    """An expected failure the user can act on. `code` is stable for API clients."""

    status = 400

    def __init__(self, code: str, message: str, *, status: int | None = None,
                 field: str | None = None, details: Any = None,
                 params: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.details = details
        # Values the catalog text of `code` names ({deadline}, {name}…), for people's pages.
        self.params = dict(params or {})
        if status:
            self.status = status

    def text(self, lang: str) -> str:
        """The message in the user's language: the catalog text of the code, else the
        message as raised (a code without catalog text fails tests/core/test_error_codes)."""
        from core import i18n

        # A message made from the catalog where it was raised is already in the user's
        # language; a plain English one is kept for English readers unless values were given
        # for the catalog text (which names the fields as people know them).
        if lang != "en" and _CJK.search(self.message) and not _ENGLISH.search(self.message):
            return self.message
        if lang == "en" and not self.params:
            return self.message
        return i18n.error_text(self.code, lang, self.params) or self.message

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        if self.details is not None:
            body["details"] = self.details
        return {"error": body}


class Forbidden(KaoheError):
    status = 403


class NotFound(KaoheError):
    status = 404


class Conflict(KaoheError):
    status = 409


class Invalid(KaoheError):
    status = 422


class FieldsInvalid(Invalid):
    """Several fields refused at once, each with its message: a form shows every message beside
    its field; the API gets them as `details` [{field, message}]."""

    def __init__(self, errors: dict[str, str], code: str = "invalid_fields"):
        first = next(iter(errors))
        super().__init__(code, "；".join(errors.values()), field=first,
                         details=[{"field": k, "message": v} for k, v in errors.items()])
        self.errors = dict(errors)


def field_errors(exc: KaoheError, lang: str | None = None) -> dict[str, str]:
    """{field: message} of a refusal, for the form that sent it; in `lang` when given
    (messages of several fields at once are already in the user's language)."""
    if isinstance(exc, FieldsInvalid):
        return dict(exc.errors)
    found = {d["field"]: d["message"] for d in exc.details or []
             if isinstance(d, dict) and "field" in d and "message" in d}
    return found or {exc.field or "": exc.text(lang) if lang else exc.message}
