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
