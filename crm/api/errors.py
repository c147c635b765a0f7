"""Every failure leaves the API as ``{code, status, message, errors}``."""

import logging

from flask_smorest import Api
from pymongo.errors import ConnectionFailure, ExecutionTimeout
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.http import HTTP_STATUS_CODES

from crm import db
from crm.services import errors

log = logging.getLogger(__name__)

# A server out of reach (ServerSelectionTimeoutError and AutoReconnect are ConnectionFailures):
# the request may succeed later, so 503 rather than 500.
UNREACHABLE = (ConnectionFailure, RedisConnectionError, RedisTimeoutError)


class CrmApi(Api):
    def handle_http_exception(self, error: HTTPException):
        payload, code, headers = super().handle_http_exception(error)
        payload.setdefault("message", error.description)
        payload.setdefault("errors", {})
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            headers = {**headers, "Allow": ", ".join(sorted(error.valid_methods))}
        return payload, code, headers

    def _register_error_handlers(self):
        super()._register_error_handlers()
        self._app.register_error_handler(errors.DomainError, handle_domain_error)
        for error in UNREACHABLE:
            self._app.register_error_handler(error, handle_unreachable)
        self._app.register_error_handler(ExecutionTimeout, handle_time_limit)


STATUS_OF: dict[type[errors.DomainError], int] = {
    errors.Malformed: 400,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.UnsupportedFormat: 415,
    errors.InvalidInput: 422,
    errors.QueryTooSlow: 422,
    errors.TooManyRequests: 429,
    errors.Unavailable: 503,
}


def status_of(error: errors.DomainError) -> int:
    return next((STATUS_OF[kind] for kind in type(error).__mro__ if kind in STATUS_OF), 400)


def handle_domain_error(error: errors.DomainError):
    code = status_of(error)
    payload = {
        "code": code,
        "status": HTTP_STATUS_CODES.get(code, "Error"),
        "message": error.message,
        "errors": error.errors,
    }
    return payload, code


def handle_unreachable(error: Exception):
    log.warning("a backing server is unreachable: %s", type(error).__name__)
    return handle_domain_error(
        errors.Unavailable("The database or the queue is unreachable; retry later.")
    )


def handle_time_limit(error: ExecutionTimeout):
    """A query past its ``maxTimeMS`` that no service described better."""
    limit = db.query_timeout_ms()
    return handle_domain_error(
        errors.QueryTooSlow(
            f"The query took longer than the {limit:,} ms limit; narrow it (a filter, a "
            "smaller page, or no count=true)."
        )
    )
