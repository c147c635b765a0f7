"""A stand-in SMS/email vendor: accepts batches, then posts delivery receipts back to the CRM.

Run it as one process (state lives in memory), e.g.
``gunicorn -w 1 --threads 8 -b 127.0.0.1:9000 'vendor_simulator:create_app()'``.
"""

from flask import Flask

from crm import config
from crm.config import Settings
from vendor_simulator import admin, errors, routes
from vendor_simulator.simulator import EXTENSION, Simulator


def create_app(settings: Settings | None = None) -> Flask:
    if settings is None:
        settings = config.load()
        config.require(settings, "vendor")
    app = Flask(__name__)
    app.extensions[EXTENSION] = Simulator(settings)
    errors.register(app)
    app.register_blueprint(routes.blueprint)
    app.register_blueprint(admin.blueprint)
    return app
