from flask import Flask

from crm.api import customers, docs, health, orders
from crm.api.errors import CrmApi
from crm.api.json import CrmJSONProvider


def register(app: Flask) -> None:
    app.json = CrmJSONProvider(app)
    api = CrmApi(app)
    for module in (customers, orders):
        api.register_blueprint(module.blp)
    app.register_blueprint(docs.blp)
    app.register_blueprint(health.blp)
