from flask.views import MethodView
from flask_smorest.error_handler import ErrorSchema
from redis.exceptions import RedisError

from crm.api.blueprint import Blueprint
from crm.api.pagination import QuerySetPage
from crm.schemas.campaign import (
    CampaignSchema,
    CommunicationLogSchema,
    LogQuerySchema,
    RecountQuerySchema,
    RecountSchema,
)
from crm.services import campaigns
from crm.services.errors import Unavailable
from workers.campaigns import resume_campaign

blp = Blueprint("campaigns", __name__, url_prefix="/api/campaign", description="Campaigns")


@blp.route("")
class Campaigns(MethodView):
    @blp.response(200, CampaignSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters):
        """List campaigns, newest first, each with its message counts (paginated)."""
        query = campaigns.newest_first()
        pagination_parameters.item_count = query.count()
        first = pagination_parameters.first_item
        page = list(query[first : first + pagination_parameters.page_size])
        return campaigns.with_stats(page)

    @blp.arguments(CampaignSchema)
    @blp.response(201, CampaignSchema)
    def post(self, data):
        """Create a DRAFT campaign for an audience; the message is a per-customer template."""
        return campaigns.with_stats([campaigns.create(data)])[0]


@blp.route("/<objectid:campaign_id>")
class CampaignById(MethodView):
    @blp.response(200, CampaignSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No campaign has that id.")
    def get(self, campaign_id):
        """Get one campaign with its message counts."""
        return campaigns.with_stats([campaigns.get(campaign_id)])[0]


@blp.route("/<objectid:campaign_id>/logs")
class CampaignLogs(MethodView):
    @blp.arguments(LogQuerySchema, location="query")
    @blp.response(200, CommunicationLogSchema(many=True))
    @blp.paginate(QuerySetPage)
    def get(self, query, campaign_id):
        """The campaign's communication logs, one per audience member (paginated)."""
        return campaigns.logs(campaigns.get(campaign_id).id, **query)


@blp.route("/<objectid:campaign_id>/pause", methods=["POST"])
@blp.response(200, CampaignSchema)
@blp.alt_response(409, schema=ErrorSchema, description="Only a SENDING campaign can be paused.")
def pause(campaign_id):
    """Pause a SENDING campaign: no further chunks go to the vendor until it resumes."""
    return campaigns.with_stats([campaigns.pause(campaign_id)])[0]


@blp.route("/<objectid:campaign_id>/resume", methods=["POST"])
@blp.response(200, CampaignSchema)
@blp.alt_response(409, schema=ErrorSchema, description="Only a PAUSED campaign can be resumed.")
@blp.alt_response(
    503, schema=ErrorSchema, description="The queue is unreachable; the campaign stays PAUSED."
)
def resume(campaign_id):
    """Resume a PAUSED campaign where it stopped."""
    campaign = campaigns.resume(campaign_id)
    try:
        resume_campaign.send(str(campaign.id))
    except RedisError:
        campaigns.pause(campaign.id)
        raise Unavailable("The send queue is unreachable; try again shortly.") from None
    return campaigns.with_stats([campaign])[0]


@blp.route("/<objectid:campaign_id>/cancel", methods=["POST"])
@blp.response(200, CampaignSchema)
@blp.alt_response(
    409, schema=ErrorSchema, description="The campaign is already COMPLETED or CANCELLED."
)
def cancel(campaign_id):
    """Cancel a campaign for good: messages not yet handed to the vendor are CANCELLED."""
    return campaigns.with_stats([campaigns.cancel(campaign_id)])[0]


@blp.route("/<objectid:campaign_id>/recount", methods=["POST"])
@blp.arguments(RecountQuerySchema, location="query")
@blp.response(200, RecountSchema)
@blp.alt_response(404, schema=ErrorSchema, description="No campaign has that id.")
def recount(query, campaign_id):
    """Count the campaign's logs again and compare them with the counts it keeps."""
    return campaigns.recount(campaign_id, query["repair"])
