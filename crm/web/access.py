"""Who is signed in, what their role lets them do, and the CSRF token every POST carries."""

import hashlib
import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.wrappers import Response

from crm import db
from crm.documents import User
from crm.services import users

PREFIX = "/app"
OPEN = ("console.sign_in", "console.oidc_start", "console.oidc_callback", "console.static")
# What a user who must replace a generated password may reach before doing so.
BEFORE_NEW_PASSWORD = ("console.password", "console.sign_out", "console.static")
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'"
)


def init_app(app: Flask) -> None:
    app.after_request(_headers)
    _console_not_found(app)


def _console_not_found(app: Flask) -> None:
    """A path under /app that no page answers is the console's 404 page; elsewhere the
    API's JSON error, as before."""
    api_handler = app.error_handler_spec[None][None].get(HTTPException)

    def not_found(error: NotFound) -> Any:
        if not _in_console():
            return api_handler(error) if api_handler else error
        message = "No console page has this address."
        page = render_template(
            "error.html", status=404, message=message, user=None, csrf_token=csrf_token
        )
        return page, 404

    app.register_error_handler(404, not_found)


def guard(blp: Blueprint) -> None:
    """Every view of ``blp`` needs a signed-in user, and every POST the CSRF token."""
    blp.before_request(_check)
    blp.context_processor(lambda: {"user": g.get("user"), "csrf_token": csrf_token})
    for status in (400, 403, 404, 409, 413, 422):
        blp.register_error_handler(status, _error_page(status))


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _in_console() -> bool:
    return request.path == PREFIX or request.path.startswith(PREFIX + "/")


def _check() -> Response | None:
    db.ensure_indexes()
    if request.method == "POST":
        sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token", "")
        expected = session.get("csrf", "")
        if not expected or not hmac.compare_digest(sent, expected):
            abort(400, "The form's security token is missing or stale; reload the page.")
    g.user = None
    user_id = session.get("user_id")
    if user_id:
        user = users.get(user_id)
        if user is not None and not user.deactivated_at and session.get("grant") == _grant(user):
            g.user = user
        else:
            # A deleted or deactivated user, or a role or password changed since signing in.
            session.clear()
    if g.user is None and request.endpoint not in OPEN:
        return redirect(url_for("console.sign_in", next=request.full_path.rstrip("?")))
    if g.user and g.user.must_change_password and request.endpoint not in BEFORE_NEW_PASSWORD:
        return redirect(url_for("console.password"))
    return None


def _grant(user: User) -> str:
    """What a session was signed in with: it holds only while the role and password do."""
    password = hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]
    return f"{user.role}:{password}"


def sign_in(user: User) -> None:
    session.clear()  # a fresh session (and token) on signing in
    session["user_id"], session["grant"] = str(user.id), _grant(user)
    csrf_token()


def requires(role: str) -> Callable:
    """A view only users with at least ``role`` reach; others get a 403 page."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def checked(*args: Any, **kwargs: Any):
            if g.user is None or not g.user.allows(role):
                abort(403, f"This needs the {role} role.")
            return view(*args, **kwargs)

        return checked

    return decorate


def _error_page(status: int) -> Callable:
    def page(error: Any):
        message = getattr(error, "description", "")
        return render_template("error.html", status=status, message=message), status

    return page


def _headers(response: Response) -> Response:
    if _in_console():
        response.headers["Content-Security-Policy"] = CSP
        if not request.path.startswith(("/app/static/", "/app/assets/")):
            response.headers["Cache-Control"] = "no-store"
    return response
