"""Audiences: the list, the segment builder with its live preview, and saving."""

import json
import re

from flask import flash, jsonify, redirect, render_template, request, url_for

from crm.services import audiences, pages
from crm.services.errors import DomainError, InvalidInput, status_of
from crm.web import form_keys
from crm.web.access import requires
from crm.web.blueprint import blp

POSITION = re.compile(r"rules\[(\d+)\]")


@blp.route("/audiences")
def audience_list():
    found = audiences.page(pages.Request(page_size=100)).items
    return render_template("audiences.html", audiences=found)


@blp.route("/audiences/new")
@requires("marketer")
@form_keys.keyed
def audience_builder():
    return render_template("builder.html", catalog=audiences.catalog(), form_key=form_keys.shown())


@blp.route("/audiences/preview", methods=["POST"])
@requires("marketer")
def audience_preview():
    """Size, sample and summary of the tree the builder holds (JSON, for its script)."""
    tree = request.get_json(silent=True)
    try:
        return jsonify(audiences.preview(tree if isinstance(tree, dict) else {}))
    except DomainError as error:
        return jsonify(message=in_words(error), errors=error.errors), status_of(error)


@blp.route("/audiences", methods=["POST"])
@requires("marketer")
def audience_save():
    """Save the builder's audience, once per form key (``crm.web.form_keys``)."""
    form_key = form_keys.posted()
    if form_key is None:
        flash(form_keys.OUT_OF_DATE, "warning")
        return redirect(url_for("console.audience_builder"))
    again = url_for("console.audience_builder", form=form_key)
    try:
        rules = json.loads(request.form.get("rules", ""))
        data = {"name": request.form.get("name") or None, "rules": rules}
        audience, created = audiences.create_once(form_key, data)
    except ValueError:
        flash(in_words(InvalidInput("The rules are not valid JSON.")), "danger")
        return redirect(again)
    except DomainError as error:
        flash(in_words(error), "danger")
        return redirect(again)
    if created:
        flash(f"Saved the audience: {audience.size:,} customers.", "success")
    else:
        flash(f"This form was saved already, as “{audience.name or audience.id}”.", "info")
    return redirect(url_for("console.audience_list"))


def in_words(error: DomainError) -> str:
    """The error with each problem said at the rule a marketer sees."""
    lines = [
        _said_at(path, str(problem))
        for path, listed in error.errors.items()
        for problem in (listed if isinstance(listed, list) else [listed])
    ]
    return " ".join([error.message, *lines])


def _said_at(path: str, problem: str) -> str:
    """``rules[1].rules[0].value`` and "Must be a number." as "Group 2, rule 1: value
    must be a number."; a problem of the whole tree as it is."""
    positions = [int(n) + 1 for n in POSITION.findall(path)]
    if not positions:
        return problem
    field = path[path.rindex("]") + 1 :].lstrip(".")
    node = "group" if field in ("rules", "logic") else "rule"
    where = ", ".join([*(f"group {n}" for n in positions[:-1]), f"{node} {positions[-1]}"])
    where = where[0].upper() + where[1:]
    if not field:
        return f"{where}: {problem}"
    return f"{where}: {field} {problem[:1].lower()}{problem[1:]}"
