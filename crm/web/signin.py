"""Signing in and out."""

from urllib.parse import urlsplit

from flask import flash, g, redirect, render_template, request, session, url_for

from crm.services import users
from crm.web import access
from crm.web.blueprint import blp


def _safe_next(target: str | None) -> str:
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
        return render_template("sign_in.html", email="", next=request.args.get("next", ""))
    email = request.form.get("email", "")
    try:
        user = users.authenticate(email, request.form.get("password", ""))
    except users.Locked:
        message = (
            f"Too many failed sign-ins: this account is locked for "
            f"{int(users.LOCK.total_seconds() // 60)} minutes."
        )
        return _refused(email, message, 423)
    if user is None:
        return _refused(email, "Wrong e-mail or password.", 401)
    access.sign_in(user)
    return redirect(_safe_next(request.form.get("next")))


def _refused(email: str, message: str, status: int):
    flash(message, "danger")
    page = render_template("sign_in.html", email=email, next=request.form.get("next", ""))
    return page, status


@blp.route("/sign-out", methods=["POST"])
def sign_out():
    session.clear()
    flash("Signed out.", "info")
    return redirect(url_for("console.sign_in"))
