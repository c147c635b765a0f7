"""Probes for orchestrators: ``/health/live`` says the process serves (no I/O);
``/health/ready`` (and ``/health``) that MongoDB and Redis answer, within 2 s either way."""

from flask import Blueprint, Flask

from crm.queue import broker
from crm.services import health

blp = Blueprint("health", __name__)


def init_app(app: Flask) -> None:
    app.register_blueprint(blp)


@blp.route("/health/live")
def live():
    return {"status": "ok"}


@blp.route("/health")
@blp.route("/health/ready")
def ready():
    problems = health.problems(broker.redis_client())
    return {"status": "ok" if not problems else "degraded", "problems": problems}, (
        200 if not problems else 503
    )
