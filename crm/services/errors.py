"""Errors the domain raises; the API maps each to one HTTP status in one place."""

from typing import Any


class DomainError(Exception):
    status_code = 400

    def __init__(self, message: str, errors: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class InvalidTransition(Conflict):
    pass


class InvalidInput(DomainError):
    """Input that passed the schema but not the domain's checks (e.g. a template)."""

    status_code = 422


class Unavailable(DomainError):
    status_code = 503


class Unauthorized(DomainError):
    status_code = 401


class Forbidden(DomainError):
    status_code = 403


class TooManyRequests(DomainError):
    status_code = 429
