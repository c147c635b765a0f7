from flask import Blueprint

from crm.services import health
from workers import broker

blp = Blueprint("health", __name__)


@blp.route("/health")
def check():
    problems = health.problems(broker.redis_client())
    return {"status": "ok" if not problems else "degraded", "problems": problems}, (
        200 if not problems else 503
    )
