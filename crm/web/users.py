"""Managing console users (admins only)."""

from collections.abc import Callable

from flask import flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from crm.documents import ROLES, User
from crm.services import users
from crm.services.errors import DomainError
from crm.web import form_keys
from crm.web.access import requires
from crm.web.blueprint import blp, flash_error


@blp.route("/users")
@requires("admin")
@form_keys.keyed
def user_list():
    return _page(form_keys.shown())


def _page(form_key: str, generated: str = "") -> str:
    """The list, its Add form with ``form_key``; ``generated``: a password shown in this
    answer only (never flashed, as flashed messages travel in the session cookie)."""
    return render_template(
        "users.html", users=users.listing(), roles=ROLES, form_key=form_key, generated=generated
    )


@blp.route("/users", methods=["POST"])
@requires("admin")
def user_create():
    """Add the user, once per form key (``crm.web.form_keys``)."""
    form_key = form_keys.posted()
    if form_key is None:
        flash(form_keys.OUT_OF_DATE, "warning")
        return redirect(url_for("console.user_list"))
    email, role = request.form.get("email", ""), request.form.get("role", "")
    try:
        user, password = users.create_once(form_key, email, role)
    except DomainError as error:
        flash_error(error)
        return redirect(url_for("console.user_list", form=form_key))
    if password is None:
        flash(
            f"This form added {user.email} already; its temporary password was shown then "
            "(New password makes another).",
            "info",
        )
        return redirect(url_for("console.user_list"))
    return _page(
        form_keys.fresh(),
        f"Created {user.email} ({user.role}). Temporary password, shown once: {password} "
        "(they choose their own at their first sign-in).",
    )


@blp.route("/users/role", methods=["POST"])
@requires("admin")
def user_role():
    return _change(
        lambda email: users.set_role(email, request.form.get("role", "")),
        "{user.email} is now {user.role}.",
    )


@blp.route("/users/deactivate", methods=["POST"])
@requires("admin")
def user_deactivate():
    return _change(
        lambda email: users.deactivate(email, g.user),
        "{user.email} is deactivated: signed out, and cannot sign in.",
    )


@blp.route("/users/reactivate", methods=["POST"])
@requires("admin")
def user_reactivate():
    return _change(users.reactivate, "{user.email} can sign in again.")


def _change(change: Callable[[str], User], done: str) -> Response:
    """Apply ``change`` to the user the form names; back to the list saying how it went."""
    try:
        user = change(request.form.get("email", ""))
    except DomainError as error:
        flash_error(error)
    else:
        flash(done.format(user=user), "success")
    return redirect(url_for("console.user_list"))


@blp.route("/users/password", methods=["POST"])
@requires("admin")
def user_password_reset():
    try:
        user, password = users.reset_password(request.form.get("email", ""))
    except DomainError as error:
        flash_error(error)
        return redirect(url_for("console.user_list"))
    return _page(
        form_keys.fresh(),
        f"New temporary password for {user.email}, shown once: {password} (their sessions "
        "ended; they choose their own at their next sign-in).",
    )
