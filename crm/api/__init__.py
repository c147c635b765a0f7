from flask import Flask

from crm.api import campaigns, customers, docs, health, orders, receipts
from crm.api.converters import ObjectIdConverter
from crm.api.errors import CrmApi
from crm.api.json import CrmJSONProvider


def register(app: Flask) -> None:
    app.json = CrmJSONProvider(app)
    app.url_map.converters["objectid"] = ObjectIdConverter
    api = CrmApi(app)
    api.register_converter(
        ObjectIdConverter, lambda _: {"type": "string", "pattern": "^[0-9a-fA-F]{24}$"}
    )
    for module in (customers, orders, campaigns, receipts):
        api.register_blueprint(module.blp)
    app.register_blueprint(docs.blp)
    app.register_blueprint(health.blp)
