"""Who may call what: API keys for REST clients, signatures for the vendor's receipts,
a throttle on failed authentication, CORS only when configured, and security headers.

The throttle slows the guesser, not the address: credentials are checked first, a valid
one always passes, and only failing attempts beyond the limit get 429. API keys and
receipt signatures are counted apart, so neither can lock the other out.

Open without credentials: ``/health`` and the documentation (``/docs``, ``/openapi.json``).
"""

import time

from flask import Flask, current_app, g, request
from flask.typing import ResponseReturnValue
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from crm import signatures
from crm.api import scopes
from crm.api.errors import handle_domain_error
from crm.config import Settings
from crm.queue import counters
from crm.services import api_keys
from crm.services.errors import Forbidden, TooManyRequests, Unauthorized

RECEIPT_PATHS = frozenset(
    {"/api/sendCampaign/deliveryReceipt", "/api/sendCampaign/deliveryReceipts"}
)
API_PREFIX = "/api/"
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"

SECURITY_SCHEMES = {
    "apiKey": {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer crm_…`"},
    "vendorSignature": {
        "type": "apiKey",
        "in": "header",
        "name": signatures.SIGNATURE_HEADER,
        "description": "HMAC-SHA256 of `<X-Signature-Timestamp>.<body>` with the shared "
        "secret, as `sha256=<hex>`; the timestamp must be within 5 minutes.",
    },
}


def init_app(app: Flask, settings: Settings) -> None:
    hops = settings.trusted_proxy_hops
    if hops:
        # The client's address is then the one the nearest trusted proxy saw.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )
    app.before_request(_cors_preflight)
    app.before_request(_authenticate)
    app.after_request(_headers)


def _settings() -> Settings:
    return current_app.config["CRM_SETTINGS"]


def _authenticate() -> ResponseReturnValue | None:
    if not request.path.startswith(API_PREFIX) or request.method == "OPTIONS":
        return None
    if request.path in RECEIPT_PATHS:
        return _verify_vendor_signature()
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    key = api_keys.authenticate(presented.strip()) if scheme.lower() == "bearer" else None
    if key is None:
        _count_failure("api-key")
        return _unauthorized("A valid API key is required: Authorization: Bearer <key>.")
    g.api_key = key
    scope = scopes.required(request.method, request.path)
    if not key.allows(scope):
        raise Forbidden(f"This API key's scope is {key.effective_scope}; {scope} is needed.")
    return None


def _verify_vendor_signature() -> ResponseReturnValue | None:
    settings = _settings()
    if not settings.receipt_signatures_required:
        return None
    secret = settings.receipt_signing_secret
    problem: str | None = "no signing secret is configured"
    if secret:
        problem = signatures.verify(
            secret,
            request.get_data(cache=True),
            request.headers.get(signatures.TIMESTAMP_HEADER),
            request.headers.get(signatures.SIGNATURE_HEADER),
        )
    if problem is None:
        return None
    _count_failure("receipt")
    return _unauthorized("The receipt's signature is missing, stale or wrong.")


def _unauthorized(message: str) -> ResponseReturnValue:
    body, status = handle_domain_error(Unauthorized(message))
    return body, status, {"WWW-Authenticate": "Bearer"}


def _count_failure(kind: str) -> None:
    """Count a failed attempt of ``kind`` from this address; past the limit in this minute,
    answer 429 instead of 401."""
    key = f"crm:auth-failures:{kind}:{request.remote_addr}:{int(time.time() // 60)}"
    if counters.count(key, 120) > _settings().auth_failures_per_minute:
        raise TooManyRequests("Too many failed authentications; wait a minute.")


def _allowed_origin() -> str | None:
    origin = request.headers.get("Origin")
    allowed = {o.strip() for o in _settings().cors_origins.split(",") if o.strip()}
    return origin if origin in allowed else None


def _cors_preflight() -> ResponseReturnValue | None:
    if request.method == "OPTIONS" and _allowed_origin():
        return (
            "",
            204,
            {
                "Access-Control-Allow-Methods": "GET, POST, PATCH, DELETE",
                "Access-Control-Allow-Headers": "Authorization, Content-Type, X-Request-ID",
                "Access-Control-Max-Age": "600",
            },
        )
    return None


def _headers(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    is_docs = request.path.startswith("/docs")
    response.headers.setdefault("Content-Security-Policy", DOCS_CSP if is_docs else API_CSP)
    if request.path.startswith(API_PREFIX):
        response.headers["Cache-Control"] = "no-store"
    origin = _allowed_origin()
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = "X-Request-ID"
        response.headers["Vary"] = "Origin"
    return response
