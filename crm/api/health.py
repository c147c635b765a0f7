"""Probes for orchestrators: ``/health/live`` says the process serves (no I/O);
``/health/ready`` (and ``/health``) that MongoDB and Redis answer, within 2 s either way."""

from flask import Blueprint, Flask, current_app

from crm.config import Settings
from crm.services import health

blp = Blueprint("health", __name__)

EXTENSION = "crm_health_redis"


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions[EXTENSION] = health.redis_client(settings.redis_url)
    app.register_blueprint(blp)


@blp.route("/health/live")
def live():
    return {"status": "ok"}


@blp.route("/health")
@blp.route("/health/ready")
def ready():
    problems = health.problems(current_app.extensions[EXTENSION])
    return {"status": "ok" if not problems else "degraded", "problems": problems}, (
        200 if not problems else 503
    )
