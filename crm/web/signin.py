"""Signing in and out, and changing one's password (forced after a generated one)."""

from urllib.parse import urlsplit

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from crm.services import campaigns, users
from crm.services.errors import DomainError
from crm.web import access, sessions, throttle
from crm.web.blueprint import blp, explain
from crm.web.campaigns import composer
from crm.web.sessions import sign_in_page

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
    if not throttle.reserve(email):
        return _refused(email, throttle.refused_message(), 429)
    try:
        user = users.authenticate(email, request.form.get("password", ""))
    except users.Deactivated:
        throttle.release(email)
        return _refused(email, DEACTIVATED, 403)
    if user is None:
        return _refused(email, "Wrong e-mail or password.", 401)
    throttle.release(email)
    sessions.sign_in(user)
    if user.must_change_password:
        return redirect(url_for("console.password", next=request.form.get("next") or None))
    return _form_back(user) or redirect(safe_next(request.form.get("next")))


def _refused(email: str, message: str, status: int):
    flash(message, "danger")
    return sign_in_page(email, request.form.get("next", ""), _kept()), status


def _kept() -> list[tuple[str, str]]:
    """The fields of a form whose session ended, as the sign-in page carries them."""
    return [(k, v) for k, v in request.form.items(multi=True) if k.startswith(access.KEPT)]


def _form_back(user) -> str | None:
    """The form posted when the session ended, filled in as it was, still to be saved:
    when the sign-in carries one the user may fill."""
    kept = MultiDict([(name.removeprefix(access.KEPT), value) for name, value in _kept()])
    if not kept or not user.allows("marketer"):
        return None
    try:
        endpoint, args = current_app.url_map.bind("").match(
            request.form.get("next", ""), method="POST"
        )
    except HTTPException:
        return None
    if endpoint not in access.KEPT_FORMS:
        return None
    g.user = user
    draft = campaigns.get(args["campaign_id"]) if "campaign_id" in args else None
    flash("This is what you wrote before your session ended; check it and save it.", "info")
    return composer(kept.to_dict(), {}, draft)


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
    sessions.sign_in(user)  # sessions signed in with the old password end
    flash("Password changed.", "success")
    return redirect(safe_next(form.get("next")))


@blp.route("/sign-out", methods=["POST"])
def sign_out():
    users.sign_out(g.user)
    session.clear()
    flash("Signed out.", "info")
    return redirect(url_for("console.sign_in"))
