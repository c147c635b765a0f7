"""Consent in the console: a customer's opt-out, and the suppression list."""

from flask import flash, redirect, render_template, request, url_for

from crm.schemas.suppression import SuppressionSchema
from crm.services import consent, pages, suppressions
from crm.services.errors import DomainError
from crm.web.access import requires
from crm.web.blueprint import blp, flash_error
from crm.web.fields import field_errors, load

PAGE_SIZE = 25


@blp.route("/customers/<extid:customer_id>/consent", methods=["POST"])
@requires("marketer")
def customer_consent(customer_id: str):
    opted_out = request.form.get("opted_out") == "true"
    try:
        consent.set_opted_out(customer_id, opted_out)
    except DomainError as error:
        flash_error(error)
    else:
        flash("Opted out of campaigns." if opted_out else "Opted back in to campaigns.", "success")
    return redirect(url_for("console.customer_profile", customer_id=customer_id))


@blp.route("/suppressions")
@requires("marketer")
def suppression_list():
    return _listing({}, {}, 200)


@blp.route("/suppressions", methods=["POST"])
@requires("marketer")
def suppression_add():
    given = {"address": request.form.get("address", ""), "reason": request.form.get("reason")}
    try:
        data = load(SuppressionSchema(), {**given, "reason": given["reason"] or None})
        entry, added = suppressions.add(data["address"], data.get("reason"))
    except DomainError as error:
        return _listing(given, field_errors(error), 422)
    flash(f"{entry.address} {'suppressed' if added else 'was already suppressed'}.", "success")
    return redirect(url_for("console.suppression_list"))


@blp.route("/suppressions/remove", methods=["POST"])
@requires("marketer")
def suppression_remove():
    address = request.form.get("address", "")
    try:
        suppressions.remove(address)
    except DomainError as error:
        flash_error(error)
    else:
        flash(f"{suppressions.normalise(address)} is no longer suppressed.", "success")
    return redirect(url_for("console.suppression_list"))


def _listing(given: dict, errors: dict[str, list[str]], status: int):
    wanted = pages.Request(page_size=PAGE_SIZE, after=request.args.get("after") or None)
    page = suppressions.page(wanted)
    return render_template("suppressions.html", page=page, given=given, errors=errors), status
