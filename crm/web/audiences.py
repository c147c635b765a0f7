"""Audiences: the list, the segment builder with its live preview, and saving."""

import json

from flask import flash, jsonify, redirect, render_template, request, url_for

from crm.services import audiences, pages
from crm.services.errors import DomainError, InvalidInput
from crm.web.access import requires
from crm.web.blueprint import blp, explain, flash_error, status_of


@blp.route("/audiences")
def audience_list():
    found = audiences.page(pages.Request(page_size=100)).items
    return render_template("audiences.html", audiences=found)


@blp.route("/audiences/new")
@requires("marketer")
def audience_builder():
    return render_template("builder.html", catalog=audiences.catalog())


@blp.route("/audiences/preview", methods=["POST"])
@requires("marketer")
def audience_preview():
    """Size, sample and summary of the tree the builder holds (JSON, for its script)."""
    tree = request.get_json(silent=True)
    try:
        return jsonify(audiences.preview(tree if isinstance(tree, dict) else {}))
    except DomainError as error:
        return jsonify(message=explain(error), errors=error.errors), status_of(error)


@blp.route("/audiences", methods=["POST"])
@requires("marketer")
def audience_save():
    try:
        rules = json.loads(request.form.get("rules", ""))
        audience = audiences.create({"name": request.form.get("name") or None, "rules": rules})
    except ValueError:
        flash_error(InvalidInput("The rules are not valid JSON."))
        return redirect(url_for("console.audience_builder"))
    except DomainError as error:
        flash_error(error)
        return redirect(url_for("console.audience_builder"))
    flash(f"Saved the audience: {audience.size:,} customers.", "success")
    return redirect(url_for("console.audience_list"))
