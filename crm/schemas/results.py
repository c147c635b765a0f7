import marshmallow as ma

from crm.documents import CampaignStatus
from crm.schemas.base import BaseSchema
from crm.schemas.fields import Money, ObjectIdString, Timestamp


def _rate(description: str) -> ma.fields.Float:
    return ma.fields.Float(allow_none=True, metadata={"description": description})


class IntervalSchema(BaseSchema):
    low = ma.fields.Float()
    high = ma.fields.Float()


class MessagedResultsSchema(BaseSchema):
    members = ma.fields.Integer(metadata={"description": "SENT messages."})
    conversions = ma.fields.Integer(
        metadata={"description": "Members with at least one order attributed (last touch)."}
    )
    conversion_rate = _rate("conversions / members; null without members.")
    orders = ma.fields.Integer(metadata={"description": "Orders attributed (last touch)."})
    revenue = Money(metadata={"description": "Sum of the attributed orders' amounts."})
    window_conversions = ma.fields.Integer(
        metadata={"description": "Members with any order in their window, whoever messaged."}
    )
    window_conversion_rate = _rate("window_conversions / members: the rate lift compares.")


class HoldoutResultsSchema(BaseSchema):
    members = ma.fields.Integer(metadata={"description": "HELD_OUT members."})
    window_conversions = ma.fields.Integer(
        metadata={"description": "Members with an order in the window from their log's creation."}
    )
    window_conversion_rate = _rate("window_conversions / members; null without members.")
    window_revenue = Money()


class LiftSchema(BaseSchema):
    absolute = _rate("Messaged minus holdout window conversion rate (0.04 = 4 points).")
    absolute_ci_95 = ma.fields.Nested(
        IntervalSchema, allow_none=True, metadata={"description": "Newcombe hybrid score."}
    )
    relative = _rate("Messaged rate / holdout rate - 1; null while either has no conversion.")
    relative_ci_95 = ma.fields.Nested(
        IntervalSchema, allow_none=True, metadata={"description": "Katz log ratio interval."}
    )
    method = ma.fields.String()


class VariantResultsSchema(BaseSchema):
    name = ma.fields.String()
    weight = ma.fields.Integer()
    delivery = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        metadata={"description": "The variant's messages by status."},
    )
    messaged = ma.fields.Nested(MessagedResultsSchema)
    lift = ma.fields.Nested(LiftSchema, metadata={"description": "This variant over the holdout."})


class CampaignResultsSchema(BaseSchema):
    campaign_id = ObjectIdString()
    status = ma.fields.Enum(CampaignStatus)
    attribution_window_days = ma.fields.Integer()
    holdout_percent = ma.fields.Float()
    computed_at = Timestamp()
    messaged = ma.fields.Nested(MessagedResultsSchema)
    holdout = ma.fields.Nested(HoldoutResultsSchema)
    lift = ma.fields.Nested(LiftSchema)
    variants = ma.fields.List(ma.fields.Nested(VariantResultsSchema))
