"""Who is signed in, what their role lets them do, and the CSRF token every POST carries."""

import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
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
from crm.web import sessions

PREFIX = "/app"
OPEN = ("console.sign_in", "console.oidc_start", "console.oidc_callback", "console.static")
# What a user who must replace a generated password may reach before doing so.
BEFORE_NEW_PASSWORD = ("console.password", "console.sign_out", "console.static")
# Forms whose fields a session ending mid-way must not lose: posted then, they come back
# through the sign-in page (see crm.web.signin).
KEPT_FORMS = ("console.campaign_save", "console.draft_save")
KEPT = "kept."
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
            "error.html", status=404, message=message, user=None, csrf_token=sessions.csrf_token
        )
        return page, 404

    app.register_error_handler(404, not_found)


def guard(blp: Blueprint) -> None:
    """Every view of ``blp`` needs a signed-in user, and every POST the CSRF token."""
    blp.before_request(_check)
    blp.context_processor(lambda: {"user": g.get("user"), "csrf_token": sessions.csrf_token})
    for status in (400, 403, 404, 409, 413, 422):
        blp.register_error_handler(status, _error_page(status))


def _in_console() -> bool:
    return request.path == PREFIX or request.path.startswith(PREFIX + "/")


def _check() -> Response | tuple[str, int] | None:
    db.ensure_indexes()
    g.user = sessions.current_user()
    if request.method == "POST":
        if g.user is None and request.endpoint in KEPT_FORMS:
            return _sign_in_keeping_form()
        _check_csrf()
    if g.user is None and request.endpoint not in OPEN:
        return redirect(url_for("console.sign_in", next=request.full_path.rstrip("?")))
    if g.user and g.user.must_change_password and request.endpoint not in BEFORE_NEW_PASSWORD:
        return redirect(url_for("console.password"))
    return None


def _check_csrf() -> None:
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token", "")
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, "The form's security token is missing or stale; reload the page.")


def _sign_in_keeping_form() -> tuple[str, int]:
    """The sign-in page carrying the form's fields (never in the cookie nor kept here),
    for the form to come back filled in once signed in, still to be saved."""
    flash(
        "Your session ended before this was saved. Sign in again: what you wrote comes "
        "back, to check and save.",
        "warning",
    )
    fields = request.form.items(multi=True)
    kept = [(KEPT + name, value) for name, value in fields if name != "csrf_token"]
    return sessions.sign_in_page("", request.path, kept), 401


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
