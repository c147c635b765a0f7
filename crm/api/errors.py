"""Every failure leaves the API as ``{code, status, message, errors}``."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from flask import request
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


Refused = TypeVar("Refused", bound=errors.DomainError)

# An upload's own errors name its parts (``file``, the CSV ``header``) at the top of ``errors``.
UPLOAD = "upload"


def handle_domain_error(error: errors.DomainError):
    code = errors.status_of(error)
    payload = {
        "code": code,
        "status": HTTP_STATUS_CODES.get(code, "Error"),
        "message": error.message,
        "errors": located(error),
    }
    return payload, code


def located(error: errors.DomainError) -> dict[str, Any]:
    """The error's fields under the part of the request that held them: the location the
    API gave the error, else the query string of a GET and the JSON body of the rest."""
    if not error.errors or error.location == UPLOAD:
        return error.errors
    default = "query" if request.method in ("GET", "HEAD") else "json"
    return {error.location or default: error.errors}


@contextmanager
def located_in(location: str) -> Iterator[None]:
    """Domain errors raised inside name fields of ``location`` of the request."""
    try:
        yield
    except errors.DomainError as error:
        at(location, error)
        raise


def at(location: str, error: Refused) -> Refused:
    """``error``, naming fields of ``location`` of the request."""
    error.location = location
    return error


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
