"""Mini CRM: customers, orders, audiences and campaigns over a REST API."""

import click
from flask import Flask

from crm import cli, commands, config, db, maintenance
from crm.config import Settings


def create_app(settings: Settings | None = None) -> Flask:
    if settings is None:
        settings = config.load()
        if click.get_current_context(silent=True) is None:  # serving, not a CLI command
            config.require(settings, "api")
    app = Flask(__name__)
    app.config.update(
        API_TITLE="Mini CRM",
        API_VERSION="1.0",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL="/docs/assets/",
        OPENAPI_SWAGGER_UI_CONFIG={"persistAuthorization": True},
        MAX_CONTENT_LENGTH=settings.max_content_length,
        CRM_SETTINGS=settings,
    )
    db.connect(settings)
    # Imported here: importing the broker imports prometheus_client, which must come after
    # gunicorn.conf.py (importing ``crm``) has set up the metrics directory.
    from crm.queue import broker

    broker.setup(settings)

    from crm.api import register

    register(app, settings)
    from crm import web

    web.init_app(app, settings)
    app.cli.add_command(commands.keys)
    app.cli.add_command(commands.users_group)
    cli.register(app)
    maintenance.register(app)
    return app
