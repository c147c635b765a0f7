from flask import Blueprint

from crm.services import health

blp = Blueprint("health", __name__)


@blp.route("/health")
def check():
    problems = health.problems()
    return {"status": "ok" if not problems else "degraded", "problems": problems}, (
        200 if not problems else 503
    )
