from flask import Flask, request

from crm import db
from crm.api import (
    access,
    api_keys,
    audiences,
    campaigns,
    customers,
    docs,
    health,
    ingestions,
    metrics,
    openapi,
    orders,
    query,
    receipts,
    results,
    security,
    sending,
    suppressions,
    test_messages,
    unsubscribe,
)
from crm.api.converters import ExternalIdConverter, ObjectIdConverter
from crm.api.errors import CrmApi
from crm.api.json import CrmJSONProvider
from crm.api.schema_extras import SchemaExtrasPlugin
from crm.api.scopes import ScopesPlugin
from crm.config import Settings
from crm.schemas.fields import ID_PATTERN


def register(app: Flask, settings: Settings) -> None:
    app.json = CrmJSONProvider(app)
    app.url_map.converters["objectid"] = ObjectIdConverter
    app.url_map.converters["extid"] = ExternalIdConverter
    app.config["API_SPEC_OPTIONS"] = {
        "components": {"securitySchemes": security.SECURITY_SCHEMES, **openapi.components()},
        "security": [{"apiKey": []}],
    }
    api = CrmApi(
        app,
        spec_kwargs={
            "extra_plugins": [SchemaExtrasPlugin(), ScopesPlugin(), openapi.ContractPlugin()]
        },
    )
    api.ma_plugin.converter.add_attribute_function(openapi.text_pattern)
    api.register_converter(
        ObjectIdConverter, lambda _: {"type": "string", "pattern": "^[0-9a-fA-F]{24}$"}
    )
    api.register_converter(ExternalIdConverter, lambda _: {"type": "string", "pattern": ID_PATTERN})
    access.init_app(app)  # first: every request gets an id, even one refused next
    app.before_request(_declare_indexes)
    security.init_app(app, settings)
    query.init_app(app, api)
    for module in (
        customers,
        orders,
        ingestions,
        audiences,
        campaigns,
        results,
        sending,
        test_messages,
        receipts,
        api_keys,
        suppressions,
    ):
        api.register_blueprint(module.blp)
    app.register_blueprint(docs.blp)
    app.register_blueprint(metrics.blp)
    app.register_blueprint(unsubscribe.blp)
    health.init_app(app)


def _declare_indexes() -> None:
    # Not at app creation, which must not need the database (the CLI, a server that
    # starts before MongoDB); a failure here is a 503 and the next request tries again.
    if request.path.startswith("/api/"):
        db.ensure_indexes()
