"""Every failure leaves the API as ``{code, status, message, errors}``."""

import logging

from flask_smorest import Api
from pymongo.errors import ConnectionFailure
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from crm.services.errors import DomainError, Unavailable

log = logging.getLogger(__name__)

# A server out of reach (ServerSelectionTimeoutError and AutoReconnect are ConnectionFailures):
# the request may succeed later, so 503 rather than 500.
UNREACHABLE = (ConnectionFailure, RedisConnectionError, RedisTimeoutError)


class CrmApi(Api):
    def handle_http_exception(self, error: HTTPException):
        payload, code, headers = super().handle_http_exception(error)
        payload.setdefault("message", error.description)
        payload.setdefault("errors", {})
        return payload, code, headers

    def _register_error_handlers(self):
        super()._register_error_handlers()
        self._app.register_error_handler(DomainError, handle_domain_error)
        for error in UNREACHABLE:
            self._app.register_error_handler(error, handle_unreachable)


def handle_domain_error(error: DomainError):
    code = error.status_code
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
        Unavailable("The database or the queue is unreachable; retry later.")
    )
