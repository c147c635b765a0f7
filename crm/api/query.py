"""Query strings are held to the rules bodies are: a parameter the operation does not
document is a 422 (``?email[$ne]=x`` is not quietly ignored), and so is a value holding
control characters. The documented parameters are read from the OpenAPI document itself,
so what is accepted and what is documented cannot drift apart."""

import re

from flask import Flask, current_app, request
from flask_smorest import Api

from crm.api.errors import at
from crm.schemas import storable
from crm.services.errors import InvalidInput

RULE_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def init_app(app: Flask, api: Api) -> None:
    app.extensions["crm_api"] = api
    app.before_request(_check_query)


def _check_query() -> None:
    rule = request.url_rule
    if rule is None or not request.path.startswith("/api/") or not request.args:
        return
    method = "get" if request.method == "HEAD" else request.method.lower()
    documented = _documented().get((RULE_ARGUMENT.sub(r"{\1}", rule.rule), method))
    if documented is None:
        return  # not an operation (a 405 follows)
    errors: dict[str, list[str]] = {}
    for name, value in request.args.items(multi=True):
        if name not in documented:
            errors[name] = ["Unknown field."]
        elif problem := storable.text_problem(value):
            errors[name] = [problem]
    if errors:
        refused = InvalidInput("The query string has unknown or invalid parameters.", errors)
        raise at("query", refused)


def _documented() -> dict[tuple[str, str], frozenset[str]]:
    """The query parameters of every operation, by (OpenAPI path, method)."""
    cached = current_app.extensions.get("crm_query_parameters")
    if cached is None:
        paths = current_app.extensions["crm_api"].spec.to_dict()["paths"]
        cached = {
            (path, method): frozenset(
                p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"
            )
            for path, item in paths.items()
            for method, operation in item.items()
            if isinstance(operation, dict) and "responses" in operation
        }
        current_app.extensions["crm_query_parameters"] = cached
    return cached
