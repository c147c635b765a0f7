"""A stand-in SMS/email vendor: accepts batches, posts delivery receipts back to the CRM,
and answers reconciliation lookups. Like most real gateways it does not de-duplicate
idempotency keys unless told to (``CRM_VENDOR_DEDUPLICATE``).

Run it as one process (state lives in memory), e.g.
``gunicorn -w 1 --threads 8 -b 127.0.0.1:9000 'vendor_simulator:create_app()'``.
"""

from flask import Flask

from vendor_simulator import admin, config, errors, routes
from vendor_simulator.config import Settings
from vendor_simulator.simulator import EXTENSION, Simulator


def create_app(settings: Settings | None = None) -> Flask:
    if settings is None:
        settings = config.load()
        config.require(settings)
    app = Flask(__name__)
    app.extensions[EXTENSION] = Simulator(settings)
    errors.register(app)
    app.register_blueprint(routes.blueprint)
    app.register_blueprint(admin.blueprint)
    return app
