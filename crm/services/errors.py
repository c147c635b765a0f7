"""Errors the domain raises; ``crm/api/errors.py`` maps each kind to one HTTP status."""

from typing import Any


class DomainError(Exception):
    def __init__(self, message: str, errors: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


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
