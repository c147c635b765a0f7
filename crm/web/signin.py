"""Signing in and out, and changing one's password (forced after a generated one)."""

from urllib.parse import urlsplit

from flask import current_app, flash, g, redirect, render_template, request, session, url_for

from crm.config import oidc_configured
from crm.services import users
from crm.services.errors import DomainError
from crm.web import access, throttle
from crm.web.blueprint import blp, explain

DEACTIVATED = "This account was deactivated; ask an admin to reactivate it."


def safe_next(target: str | None) -> str:
    """Only a path of the console: never another site."""
    parts = urlsplit(target or "")
    if parts.scheme or parts.netloc or not parts.path.startswith("/app"):
        return url_for("console.home")
    return target or url_for("console.home")


@blp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    if request.method == "GET":
        if g.user is not None:
            return redirect(url_for("console.home"))
        return sign_in_page("", request.args.get("next", ""))
    email = request.form.get("email", "")
    if throttle.blocked():
        return _refused(email, throttle.blocked_message(), 429)
    try:
        user = users.authenticate(email, request.form.get("password", ""))
    except users.Locked:
        throttle.count_failure()
        message = (
            f"Too many failed sign-ins: this account is locked for "
            f"{int(users.LOCK.total_seconds() // 60)} minutes."
        )
        return _refused(email, message, 423)
    except users.Deactivated:
        return _refused(email, DEACTIVATED, 403)
    if user is None:
        throttle.count_failure()
        return _refused(email, "Wrong e-mail or password.", 401)
    access.sign_in(user)
    if user.must_change_password:
        return redirect(url_for("console.password", next=request.form.get("next") or None))
    return redirect(safe_next(request.form.get("next")))


def _refused(email: str, message: str, status: int):
    flash(message, "danger")
    return sign_in_page(email, request.form.get("next", "")), status


def sign_in_page(email: str, next_page: str) -> str:
    """The sign-in form, with the provider's button when one is configured."""
    settings = current_app.config["CRM_SETTINGS"]
    provider = settings.oidc_label if oidc_configured(settings) else None
    return render_template("sign_in.html", email=email, next=next_page, provider=provider)


@blp.route("/password", methods=["GET", "POST"])
def password():
    forced = g.user.must_change_password
    if request.method == "GET":
        return render_template("password.html", forced=forced, next=request.args.get("next", ""))
    form = request.form
    try:
        user = users.change_password(
            g.user,
            form.get("current_password", ""),
            form.get("new_password", ""),
            form.get("confirmation", ""),
        )
    except DomainError as error:
        flash(explain(error), "danger")
        page = render_template("password.html", forced=forced, next=form.get("next", ""))
        return page, 422
    access.sign_in(user)  # sessions signed in with the old password end
    flash("Password changed.", "success")
    return redirect(safe_next(form.get("next")))


@blp.route("/sign-out", methods=["POST"])
def sign_out():
    session.clear()
    flash("Signed out.", "info")
    return redirect(url_for("console.sign_in"))
