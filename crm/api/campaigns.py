from flask.views import MethodView
from flask_smorest.error_handler import ErrorSchema

from crm.api.blueprint import Blueprint
from crm.api.pagination import PAGE_HEADERS, respond
from crm.schemas.campaign import (
    CampaignPatchSchema,
    CampaignSchema,
    CommunicationLogSchema,
    LogQuerySchema,
    RecountQuerySchema,
    RecountSchema,
)
from crm.schemas.pagination import NewestFirstQuerySchema
from crm.services import campaigns, drafts, pages

blp = Blueprint("campaigns", __name__, url_prefix="/api/campaign", description="Campaigns")
NOT_FOUND = {"schema": ErrorSchema, "description": "No campaign has that id."}


@blp.route("")
class Campaigns(MethodView):
    @blp.arguments(NewestFirstQuerySchema, location="query")
    @blp.response(200, CampaignSchema(many=True), headers=PAGE_HEADERS)
    def get(self, query):
        """List campaigns, newest first, each with its message counts (a page at a time)."""
        found = campaigns.newest_first()
        request, estimate = pages.Request.take(query), pages.unfiltered_estimate(found)
        page = pages.read(found, pages.NEWEST_CREATED, request, estimate)
        return respond(page, campaigns.with_stats)

    @blp.arguments(CampaignSchema)
    @blp.response(201, CampaignSchema)
    def post(self, data):
        """Create a DRAFT campaign for an audience; the message is a per-customer template."""
        return campaigns.with_stats([campaigns.create(data)])[0]


@blp.route("/<objectid:campaign_id>")
class CampaignById(MethodView):
    @blp.response(200, CampaignSchema)
    @blp.alt_response(404, **NOT_FOUND)
    def get(self, campaign_id):
        """Get one campaign with its message counts."""
        return campaigns.with_stats([campaigns.get(campaign_id)])[0]

    @blp.arguments(CampaignPatchSchema)
    @blp.response(200, CampaignSchema)
    @blp.alt_response(404, **NOT_FOUND)
    @blp.alt_response(
        409,
        schema=ErrorSchema,
        description="The campaign is not a DRAFT (any more); it was left as it was.",
    )
    def patch(self, data, campaign_id):
        """Edit a DRAFT campaign.

        Any of the fields it is created with, checked as on creation (templates, the
        audience, a schedule's start). A field given replaces the campaign's: `schedule`,
        `variants` and `frequency_cap` as a whole; null clears `name`,
        `rate_limit_per_second`, `frequency_cap` or `schedule`. The change is written in
        one update only if the campaign is still a DRAFT then: all of it, or nothing and
        a 409."""
        return campaigns.with_stats([drafts.edit(campaign_id, data)])[0]

    @blp.response(204)
    @blp.alt_response(404, **NOT_FOUND)
    @blp.alt_response(
        409,
        schema=ErrorSchema,
        description="The campaign is not a DRAFT: scheduled, sent and cancelled campaigns "
        "are kept, with their logs.",
    )
    def delete(self, campaign_id):
        """Delete a DRAFT campaign.

        Only if it is still a DRAFT when deleted: a campaign SCHEDULED, sending, paused,
        completed or cancelled is kept, with its logs. Deleting it again is a 404."""
        drafts.delete(campaign_id)


@blp.route("/<objectid:campaign_id>/logs")
class CampaignLogs(MethodView):
    @blp.arguments(LogQuerySchema, location="query")
    @blp.response(200, CommunicationLogSchema(many=True), headers=PAGE_HEADERS)
    def get(self, query, campaign_id):
        """The campaign's communication logs, one per audience member (a page at a time)."""
        request = pages.Request.take(query)
        return respond(campaigns.logs(campaigns.get(campaign_id), request, **query))


@blp.route("/<objectid:campaign_id>/recount", methods=["POST"])
@blp.arguments(RecountQuerySchema, location="query")
@blp.response(200, RecountSchema)
@blp.alt_response(404, schema=ErrorSchema, description="No campaign has that id.")
def recount(query, campaign_id):
    """Count the campaign's logs again and compare them with the counts it keeps."""
    return campaigns.recount(campaign_id, query["repair"])
