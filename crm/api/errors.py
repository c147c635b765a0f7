"""Every failure leaves the API as ``{code, status, message, errors}``."""

from flask_smorest import Api
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.http import HTTP_STATUS_CODES

from crm.services.errors import DomainError


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
        self._app.register_error_handler(DomainError, handle_domain_error)


def handle_domain_error(error: DomainError):
    code = error.status_code
    payload = {
        "code": code,
        "status": HTTP_STATUS_CODES.get(code, "Error"),
        "message": error.message,
        "errors": error.errors,
    }
    return payload, code
