from flask import Flask, request

from crm import db
from crm.api import (
    api_keys,
    audiences,
    campaigns,
    customers,
    docs,
    health,
    ingestions,
    orders,
    receipts,
    security,
)
from crm.api.converters import ObjectIdConverter
from crm.api.errors import CrmApi
from crm.api.json import CrmJSONProvider
from crm.config import Settings


def register(app: Flask, settings: Settings) -> None:
    app.json = CrmJSONProvider(app)
    app.url_map.converters["objectid"] = ObjectIdConverter
    app.config["API_SPEC_OPTIONS"] = {
        "components": {"securitySchemes": security.SECURITY_SCHEMES},
        "security": [{"apiKey": []}],
    }
    api = CrmApi(app)
    api.register_converter(
        ObjectIdConverter, lambda _: {"type": "string", "pattern": "^[0-9a-fA-F]{24}$"}
    )
    app.before_request(_declare_indexes)
    security.init_app(app, settings)
    for module in (customers, orders, ingestions, audiences, campaigns, receipts, api_keys):
        api.register_blueprint(module.blp)
    app.register_blueprint(docs.blp)
    health.init_app(app, settings)


def _declare_indexes() -> None:
    # Not at app creation, which must not need the database (the CLI, a server that
    # starts before MongoDB); a failure here is a 503 and the next request tries again.
    if request.path.startswith("/api/"):
        db.ensure_indexes()
