import marshmallow as ma

from crm.documents import CampaignStatus, MessageStatus
from crm.schemas.base import MULTILINE, BaseSchema
from crm.schemas.fields import ObjectIdString, Timestamp
from crm.schemas.pagination import ListQuerySchema


class CampaignStatsSchema(BaseSchema):
    total = ma.fields.Integer(metadata={"description": "Messages created so far."})
    pending = ma.fields.Integer(metadata={"description": "Not yet accepted by the vendor."})
    accepted = ma.fields.Integer(metadata={"description": "Accepted, awaiting a receipt."})
    sent = ma.fields.Integer()
    failed = ma.fields.Integer()
    cancelled = ma.fields.Integer()
    held_out = ma.fields.Integer(metadata={"description": "Control group members, never sent."})


class CampaignProgressSchema(BaseSchema):
    done = ma.fields.Integer(
        metadata={"description": "Messages SENT, FAILED, CANCELLED or HELD_OUT."}
    )
    total = ma.fields.Integer(metadata={"description": "Audience size (known once materialised)."})
    rate_per_second = ma.fields.Float(allow_none=True)
    eta_seconds = ma.fields.Float(allow_none=True)


MESSAGE_DESCRIPTION = (
    "A template rendered per customer, e.g. "
    "`Hi {{name}}, here's 10% off on your next order!`. Variables: "
    "customer_id, name, email, total_spends, visit_count, last_visit_date, "
    "attributes.<key>. May span lines."
)


class VariantSchema(BaseSchema):
    name = ma.fields.String(dump_only=True, metadata={"description": "A, B, C or D, in order."})
    message = ma.fields.String(
        required=True,
        validate=ma.validate.Length(1, 2000),
        metadata={"description": MESSAGE_DESCRIPTION, MULTILINE: True},
    )
    weight = ma.fields.Integer(
        strict=True,
        load_default=1,
        validate=ma.validate.Range(1, 100),
        metadata={"description": "Share of the messaged members, relative to the others."},
    )


class CampaignSchema(BaseSchema):
    id = ObjectIdString(dump_only=True)
    name = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=200))
    audience_id = ObjectIdString(required=True)
    message = ma.fields.String(
        required=True,
        validate=ma.validate.Length(1, 2000),
        metadata={
            "description": MESSAGE_DESCRIPTION + " With `variants`, the variants' messages "
            "are sent instead; this one names the campaign's message in lists.",
            MULTILINE: True,
        },
    )
    rate_limit_per_second = ma.fields.Integer(
        strict=True,
        allow_none=True,
        validate=ma.validate.Range(1, 100_000),
        metadata={"description": "Most messages a second to the vendor; default: no limit."},
    )
    holdout_percent = ma.fields.Float(
        load_default=0,
        allow_nan=False,
        validate=ma.validate.Range(0, 50),
        metadata={
            "description": "Share of the audience (percent) held out as a control group: "
            "their logs are HELD_OUT and nothing is sent to them. Drawn by a hash of "
            "campaign and customer, so the same member is always in or out.",
            "example": 10,
        },
    )
    variants = ma.fields.List(
        ma.fields.Nested(VariantSchema),
        load_default=list,
        validate=ma.validate.Length(max=4),
        metadata={
            "description": "Up to 4 messages (A/B test); each messaged member gets one, "
            "drawn in proportion to the weights. Empty: everyone gets `message`."
        },
    )
    attribution_window_days = ma.fields.Integer(
        strict=True,
        load_default=7,
        validate=ma.validate.Range(1, 90),
        metadata={"description": "Days from a message in which an order counts as its conversion."},
    )
    status = ma.fields.Enum(CampaignStatus, dump_only=True)
    audience_size = ma.fields.Integer(dump_only=True)
    stats = ma.fields.Nested(CampaignStatsSchema, dump_only=True)
    reconciliation = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        dump_only=True,
        metadata={
            "description": "Deliveries whose outcome was unknown and how they ended: "
            "ambiguous_requests (vendor requests with no answer seen), found_at_vendor / "
            "not_at_vendor (messages looked up before sending again), receipts_recovered / "
            "receipts_lost (messages without a receipt looked up at the vendor)."
        },
    )
    progress = ma.fields.Nested(CampaignProgressSchema, dump_only=True)
    created_at = Timestamp(dump_only=True)
    started_at = Timestamp(dump_only=True, allow_none=True)
    completed_at = Timestamp(dump_only=True, allow_none=True)


class SendCampaignSchema(BaseSchema):
    campaign_id = ObjectIdString(required=True)


class SendAcceptedSchema(BaseSchema):
    campaign_id = ObjectIdString()
    status = ma.fields.Enum(CampaignStatus)


class CommunicationLogSchema(BaseSchema):
    id = ObjectIdString(dump_only=True)
    campaign_id = ObjectIdString(dump_only=True)
    customer_id = ma.fields.String(dump_only=True)
    to = ma.fields.String(dump_only=True)
    message = ma.fields.String(dump_only=True)
    status = ma.fields.Enum(MessageStatus, dump_only=True)
    reason = ma.fields.String(dump_only=True, allow_none=True)
    variant = ma.fields.String(dump_only=True, allow_none=True)
    created_at = Timestamp(dump_only=True)
    updated_at = Timestamp(dump_only=True)
    accepted_at = Timestamp(dump_only=True, allow_none=True)


class LogQuerySchema(ListQuerySchema):
    status = ma.fields.Enum(MessageStatus)


class RecountQuerySchema(BaseSchema):
    repair = ma.fields.Boolean(
        load_default=False,
        metadata={
            "description": "Store the recounted figures; only for a COMPLETED or CANCELLED "
            "campaign with no message in flight."
        },
    )


class RecountSchema(BaseSchema):
    kept = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        metadata={"description": "The counts kept on the campaign, by message status."},
    )
    counted = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        metadata={"description": "The same counted from the communication logs now."},
    )
    consistent = ma.fields.Boolean()
    repaired = ma.fields.Boolean(metadata={"description": "Whether the kept counts were replaced."})
