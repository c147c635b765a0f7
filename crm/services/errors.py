"""Errors the domain raises, and the one HTTP status each kind means to the API and the
console alike.

A service names the fields it refuses by their paths in the data it was given
(``{"schedule": {"send_at": [...]}}``), never by where a request carried them: only the API
knows that, and puts them under ``json``, ``query``, … (``crm/api/errors.py``)."""

from typing import Any


class DomainError(Exception):
    def __init__(self, message: str, errors: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        # The part of a request that held the fields; only the API layer sets it.
        self.location: str | None = None


class Malformed(DomainError):
    """Input that cannot be read at all (not JSON, not CSV, …)."""


class UnsupportedFormat(DomainError):
    pass


class InvalidInput(DomainError):
    """Input that passed the schema but not the domain's checks (e.g. a template)."""


class NotFound(DomainError):
    pass


class Conflict(DomainError):
    pass


class InvalidTransition(Conflict):
    pass


class Unauthorized(DomainError):
    pass


class Forbidden(DomainError):
    pass


class TooManyRequests(DomainError):
    pass


class QueryTooSlow(DomainError):
    """A query a user asked for ran past ``CRM_QUERY_TIMEOUT_MS``: asking again will not
    help, asking for less will."""


class Unavailable(DomainError):
    pass


class QueueUnavailable(Unavailable):
    pass


STATUS_OF: dict[type[DomainError], int] = {
    DomainError: 400,
    Malformed: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    UnsupportedFormat: 415,
    InvalidInput: 422,
    QueryTooSlow: 422,
    TooManyRequests: 429,
    Unavailable: 503,
}


def status_of(error: DomainError) -> int:
    """The status of the nearest kind in the table (``InvalidTransition`` is a Conflict)."""
    return next(STATUS_OF[kind] for kind in type(error).__mro__ if kind in STATUS_OF)
