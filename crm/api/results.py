from flask_smorest.error_handler import ErrorSchema

from crm.api.blueprint import Blueprint
from crm.schemas.results import CampaignResultsSchema
from crm.services import attribution

blp = Blueprint("results", __name__, url_prefix="/api/campaign", description="Campaign results")

EXAMPLE = {
    "campaign_id": "6663a475e42db195d2b07162",
    "status": "COMPLETED",
    "attribution_window_days": 7,
    "holdout_percent": 10.0,
    "computed_at": "2026-12-08T09:00:00.000000+00:00",
    "messaged": {
        "members": 4500,
        "conversions": 520,
        "conversion_rate": 0.1156,
        "orders": 610,
        "revenue": 73200.5,
        "window_conversions": 540,
        "window_conversion_rate": 0.12,
    },
    "holdout": {
        "members": 500,
        "window_conversions": 40,
        "window_conversion_rate": 0.08,
        "window_revenue": 4100.0,
    },
    "lift": {
        "absolute": 0.04,
        "absolute_ci_95": {"low": 0.0136, "high": 0.0616},
        "relative": 0.5,
        "relative_ci_95": {"low": 0.0943, "high": 1.0553},
        "method": "Newcombe hybrid score (absolute), Katz log ratio (relative)",
    },
    "variants": [],
}


@blp.route("/<objectid:campaign_id>/results")
@blp.response(200, CampaignResultsSchema, example=EXAMPLE)
@blp.alt_response(404, schema=ErrorSchema, description="No campaign has that id.")
def results(campaign_id):
    """Orders attributed to the campaign (last touch), and its lift over the holdout.

    Computed when asked, by one aggregation over the campaign's logs; see docs/results.md,
    "Results: attribution, holdout and variants" for the definitions.
    """
    return attribution.report(campaign_id)
