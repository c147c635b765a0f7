import marshmallow as ma

from crm.documents import CampaignStatus, MessageStatus
from crm.documents.campaign import WINNER_METRICS, FrequencyCap, WinnerTest
from crm.documents.contact import MAX_CAP_DAYS
from crm.schemas.base import MULTILINE, BaseSchema
from crm.schemas.fields import ObjectIdString, Timestamp
from crm.schemas.pagination import ListQuerySchema
from crm.schemas.schedule import ScheduleSchema

SCHEDULE_DESCRIPTION = (
    "When it is sent (see Scheduling in docs/consent-and-scheduling.md): a start time, or "
    "a local send time per member, quiet hours and what to do if the start is missed."
)


class CampaignStatsSchema(BaseSchema):
    total = ma.fields.Integer(metadata={"description": "Messages created so far."})
    pending = ma.fields.Integer(metadata={"description": "Not yet accepted by the vendor."})
    accepted = ma.fields.Integer(metadata={"description": "Accepted, awaiting a receipt."})
    sent = ma.fields.Integer()
    failed = ma.fields.Integer()
    cancelled = ma.fields.Integer()
    skipped = ma.fields.Integer(
        metadata={"description": "Never sent: opted out, suppressed or over the frequency cap."}
    )
    held_out = ma.fields.Integer(metadata={"description": "Control group members, never sent."})
    vendor_accepted = ma.fields.Integer(
        metadata={
            "description": "Messages the vendor took (ACCEPTED, then SENT or FAILED by its "
            "receipt); messages FAILED before reaching it are not among them."
        }
    )
    waiting = ma.fields.Integer(
        metadata={
            "description": "Outside an automatic winner's test share: sent the winning "
            "variant once it is chosen."
        }
    )


class CampaignProgressSchema(BaseSchema):
    done = ma.fields.Integer(
        metadata={"description": "Messages SENT, FAILED, CANCELLED, SKIPPED or HELD_OUT."}
    )
    total = ma.fields.Integer(metadata={"description": "Audience size (known once materialised)."})
    rate_per_second = ma.fields.Float(allow_none=True)
    eta_seconds = ma.fields.Float(allow_none=True)


class FrequencyCapSchema(BaseSchema):
    messages = ma.fields.Integer(
        required=True,
        strict=True,
        validate=ma.validate.Range(1, 1000),
        metadata={"description": "Most messages a customer may get within the window."},
    )
    days = ma.fields.Integer(
        required=True,
        strict=True,
        validate=ma.validate.Range(1, MAX_CAP_DAYS),
        metadata={"description": "The window, in days."},
    )

    @ma.post_load
    def make(self, data, **kwargs):
        return FrequencyCap(**data)


MESSAGE_DESCRIPTION = (
    "A template rendered per customer, e.g. "
    "`Hi {{name}}, here's 10% off on your next order!`. Variables: "
    "customer_id, name, email, total_spends, visit_count, last_visit_date, "
    "attributes.<key>, unsubscribe_url (the customer's signed one-click unsubscribe link). "
    "May span lines. Output, `if` and `for` (nested at most 2 deep), filters and expressions; "
    "no `set`, `with` or macros. A template that goes over its render budget (0.5 s, 10,000 "
    "loop steps, 100,000 characters) for a sample customer is a 422 naming the line."
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


class VariantFiguresSchema(BaseSchema):
    name = ma.fields.String(metadata={"description": "The variant, A to D."})
    members = ma.fields.Integer(
        metadata={
            "description": "Its test-share members the metric counts: SENT ones for "
            "conversion_rate, those the vendor was asked to send to for delivered_rate."
        }
    )
    successes = ma.fields.Integer(
        metadata={"description": "Of those, members who converted, or whose message was SENT."}
    )
    rate = ma.fields.Float(
        allow_none=True, metadata={"description": "successes / members; null without members."}
    )


class WinnerSchema(BaseSchema):
    test_percent = ma.fields.Integer(
        required=True,
        strict=True,
        validate=ma.validate.Range(5, 50),
        metadata={
            "description": "Share of the messaged audience (percent) that gets the variants "
            "first; the rest get the winning variant once it is chosen.",
            "example": 10,
        },
    )
    decide_after_minutes = ma.fields.Integer(
        required=True,
        strict=True,
        validate=ma.validate.Range(10, 10080),
        metadata={
            "description": "Minutes after the campaign starts when the winner is chosen "
            "(10 to 10,080, a week).",
            "example": 240,
        },
    )
    metric = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(WINNER_METRICS),
        metadata={
            "description": "What the winner is chosen by, in the test share: "
            "conversion_rate (members with an attributed order, of those SENT) or "
            "delivered_rate (SENT, of those the vendor was asked to send). Ties go to the "
            "earliest variant.",
            "example": "conversion_rate",
        },
    )
    decide_at = Timestamp(
        dump_only=True,
        allow_none=True,
        metadata={"description": "When the winner is chosen; null until the campaign starts."},
    )
    chosen = ma.fields.String(
        dump_only=True, allow_none=True, metadata={"description": "The winning variant."}
    )
    decided_at = Timestamp(
        dump_only=True, allow_none=True, metadata={"description": "When it was chosen."}
    )
    figures = ma.fields.List(
        ma.fields.Nested(VariantFiguresSchema),
        dump_only=True,
        metadata={"description": "Each variant's figures the winner was chosen on."},
    )

    @ma.post_load
    def make(self, data, **kwargs):
        return WinnerTest(**data)


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
    frequency_cap = ma.fields.Nested(
        FrequencyCapSchema,
        allow_none=True,
        metadata={
            "description": "This campaign's own frequency cap, instead of the setting's "
            "(CRM_FREQUENCY_CAP_MESSAGES per CRM_FREQUENCY_CAP_DAYS). A member who already "
            "had that many contacts within the window gets a SKIPPED log "
            "(reason frequency_cap)."
        },
    )
    ignore_frequency_cap = ma.fields.Boolean(
        metadata={
            "description": "Send regardless of any frequency cap, and count nothing "
            "towards one (transactional messages). Opt-outs and suppressions still apply."
        },
    )
    schedule = ma.fields.Nested(
        ScheduleSchema, allow_none=True, metadata={"description": SCHEDULE_DESCRIPTION}
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
    winner = ma.fields.Nested(
        WinnerSchema,
        allow_none=True,
        metadata={
            "description": "Choose a winning variant automatically (needs 2 or more "
            "`variants`): a test share gets the variants, and once `decide_after_minutes` "
            "have passed the rest get the variant with the best `metric`."
        },
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

    @ma.validates_schema
    def one_cap_rule(self, data, **kwargs):
        if data.get("ignore_frequency_cap") and data.get("frequency_cap"):
            raise ma.ValidationError(
                "Give a frequency_cap or ignore_frequency_cap, not both.", "frequency_cap"
            )

    @ma.validates_schema
    def winner_needs_variants(self, data, **kwargs):
        if data.get("winner") and len(data.get("variants") or []) < 2:
            raise ma.ValidationError(
                "An automatic winner needs at least 2 variants to choose from.", "winner"
            )


class CampaignPatchSchema(CampaignSchema):
    """Any of the fields a campaign is created with, at least one; checked as on creation.
    A field given replaces the campaign's (``schedule``, ``variants`` and ``frequency_cap``
    whole); null clears a field that may be null."""

    class Meta(CampaignSchema.Meta):
        openapi = {"minProperties": 1}

    def __init__(self, **kwargs):
        # Partial at the top only: a variant given must still be whole (its message).
        super().__init__(partial=tuple(CampaignSchema._declared_fields), **kwargs)

    @ma.validates_schema
    def something_to_change(self, data, **kwargs):
        if not data:
            raise ma.ValidationError("Give at least one field to change.", "_schema")


class SendCampaignSchema(BaseSchema):
    campaign_id = ObjectIdString(required=True)
    schedule = ma.fields.Nested(
        ScheduleSchema,
        metadata={
            "description": "Replaces the campaign's schedule. A start in the future makes "
            "the campaign SCHEDULED; otherwise it starts SENDING at once."
        },
    )


class SendAcceptedSchema(BaseSchema):
    campaign_id = ObjectIdString()
    status = ma.fields.Enum(CampaignStatus)
    send_at = Timestamp(
        allow_none=True, metadata={"description": "When a SCHEDULED campaign will start."}
    )


class CommunicationLogSchema(BaseSchema):
    id = ObjectIdString(dump_only=True)
    campaign_id = ObjectIdString(dump_only=True)
    customer_id = ma.fields.String(dump_only=True)
    to = ma.fields.String(dump_only=True)
    message = ma.fields.String(dump_only=True)
    status = ma.fields.Enum(MessageStatus, dump_only=True)
    reason = ma.fields.String(
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "Why a message FAILED (from the vendor, or render_error, "
            "vendor_unavailable, receipt_timeout) or was SKIPPED (opted_out, suppressed, "
            "frequency_cap, local_time_passed)."
        },
    )
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
