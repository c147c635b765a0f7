"""Every failure leaves the simulator as ``{code, status, message, errors}``, like the CRM's API."""

from typing import Any

from flask import Flask, Response, jsonify
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES


def error_response(code: int, message: str, errors: dict[str, Any] | None = None) -> Response:
    response = jsonify(
        code=code,
        status=HTTP_STATUS_CODES.get(code, "Error"),
        message=message,
        errors=errors or {},
    )
    response.status_code = code
    return response


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def handle_http_exception(error: HTTPException) -> Response:
        return error_response(error.code or 500, error.description or "")

    @app.errorhandler(ValidationError)
    def handle_validation_error(error: ValidationError) -> Response:
        errors = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
        return error_response(422, "The request body is invalid.", errors)
