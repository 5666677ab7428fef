"""Errors with stable codes: JSON for the API, a page for people."""

from __future__ import annotations

from typing import Any


class KaoheError(Exception):
    """An expected failure the user can act on. `code` is stable for API clients."""

    status = 400

    def __init__(self, code: str, message: str, *, status: int | None = None,
                 field: str | None = None, details: Any = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.details = details
        if status:
            self.status = status

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


def field_errors(exc: KaoheError) -> dict[str, str]:
    """{field: message} of a refusal, for the form that sent it."""
    if isinstance(exc, FieldsInvalid):
        return dict(exc.errors)
    found = {d["field"]: d["message"] for d in exc.details or []
             if isinstance(d, dict) and "field" in d and "message" in d}
    return found or {exc.field or "": exc.message}
