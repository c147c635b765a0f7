"""Sending a campaign and controlling it while it sends (``crm.services.sending.control``)."""

from flask import current_app
from flask_smorest.error_handler import ErrorSchema

from crm.api.blueprint import Blueprint
from crm.queue import handles
from crm.schemas.campaign import CampaignSchema, SendAcceptedSchema, SendCampaignSchema
from crm.services import campaigns
from crm.services.sending import control, schedule

blp = Blueprint("sending", __name__, url_prefix="/api", description="Sending")


@blp.route("/sendCampaign", methods=["POST"])
@blp.arguments(SendCampaignSchema)
@blp.response(202, SendAcceptedSchema, description="Queued; watch GET /api/campaign/{id}.")
@blp.alt_response(409, schema=ErrorSchema, description="The campaign is not a DRAFT.")
@blp.alt_response(
    422,
    schema=ErrorSchema,
    description="The schedule is invalid, or its start has passed, or the campaign is to "
    "be sent now and its audience has no members.",
)
@blp.alt_response(
    503, schema=ErrorSchema, description="The queue is unreachable; the campaign stays a DRAFT."
)
def send_campaign(data):
    """Send a DRAFT campaign: at once (SENDING) or at its schedule's start (SCHEDULED).
    Returns at once; workers deliver in the background."""
    settings = current_app.config["CRM_SETTINGS"]
    campaign = handles.start_campaign(data["campaign_id"], data.get("schedule"), settings)
    send_at = campaign.schedule.send_at if campaign.schedule else None
    return {"campaign_id": campaign.id, "status": campaign.status, "send_at": send_at}


@blp.route("/campaign/<objectid:campaign_id>/unschedule", methods=["POST"])
@blp.response(200, CampaignSchema)
@blp.alt_response(
    409, schema=ErrorSchema, description="Only a SCHEDULED campaign can be unscheduled."
)
def unschedule(campaign_id):
    """Take a SCHEDULED campaign back to a DRAFT, before it starts (its schedule is kept)."""
    return campaigns.with_stats([schedule.unschedule(campaign_id)])[0]


@blp.route("/campaign/<objectid:campaign_id>/pause", methods=["POST"])
@blp.response(200, CampaignSchema)
@blp.alt_response(409, schema=ErrorSchema, description="Only a SENDING campaign can be paused.")
def pause(campaign_id):
    """Pause a SENDING campaign: no further chunks go to the vendor until it resumes."""
    return campaigns.with_stats([control.pause(campaign_id)])[0]


@blp.route("/campaign/<objectid:campaign_id>/resume", methods=["POST"])
@blp.response(200, CampaignSchema)
@blp.alt_response(409, schema=ErrorSchema, description="Only a PAUSED campaign can be resumed.")
@blp.alt_response(
    503, schema=ErrorSchema, description="The queue is unreachable; the campaign stays PAUSED."
)
def resume(campaign_id):
    """Resume a PAUSED campaign where it stopped."""
    return campaigns.with_stats([control.resume(campaign_id, handles.RESUME_CAMPAIGN.send)])[0]


@blp.route("/campaign/<objectid:campaign_id>/cancel", methods=["POST"])
@blp.response(200, CampaignSchema)
@blp.alt_response(
    409, schema=ErrorSchema, description="The campaign is already COMPLETED or CANCELLED."
)
def cancel(campaign_id):
    """Cancel a campaign for good (a SCHEDULED one never starts): messages not yet handed
    to the vendor end CANCELLED (in the background); those the vendor may hold still get
    their receipts."""
    return campaigns.with_stats([control.cancel(campaign_id, handles.CANCEL_CAMPAIGN.send)])[0]
