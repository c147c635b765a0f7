from mongoengine import (
    BooleanField,
    DateTimeField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentField,
    EmbeddedDocumentListField,
    EnumField,
    FloatField,
    IntField,
    MapField,
    ObjectIdField,
    StringField,
)

from crm.clock import utcnow
from crm.documents.schedule import CampaignSchedule
from crm.documents.status import CampaignStatus


class FrequencyCap(EmbeddedDocument):
    """At most ``messages`` per customer in any ``days`` days, across campaigns."""

    messages = IntField(required=True, min_value=1)
    days = IntField(required=True, min_value=1)


class Variant(EmbeddedDocument):
    """One message of an A/B test; members are split by ``weight``."""

    name = StringField(required=True)
    message = StringField(required=True, max_length=2000)
    weight = IntField(default=1, min_value=1)


WINNER_METRICS = ("conversion_rate", "delivered_rate")


class VariantFigures(EmbeddedDocument):
    """What a variant's test share scored when the winner was chosen: ``rate`` is
    ``successes`` of ``members`` (None without members)."""

    name = StringField(required=True)
    members = IntField(default=0)
    successes = IntField(default=0)
    rate = FloatField()


class WinnerTest(EmbeddedDocument):
    """Send the variants to a test share first, then the best one to everyone else
    (crm/services/sending/winner.py)."""

    test_percent = IntField(required=True, min_value=5, max_value=50)
    decide_after_minutes = IntField(required=True, min_value=10, max_value=10080)
    metric = StringField(required=True, choices=WINNER_METRICS)
    chosen = StringField()
    decided_at = DateTimeField()
    figures = EmbeddedDocumentListField(VariantFigures, default=list)
    # Releasing the waiting members: the last log _id released, and whether all were.
    cursor = ObjectIdField()
    released = BooleanField(default=False)


class Campaign(Document):
    name = StringField(max_length=200)
    audience_id = ObjectIdField(required=True)
    message = StringField(required=True, max_length=2000)
    status = EnumField(CampaignStatus, default=CampaignStatus.DRAFT)
    audience_size = IntField(default=0)
    rate_limit_per_second = IntField(min_value=1)
    # Results: the control share never messaged, the message variants, and how long after
    # a message an order counts as its conversion (crm/services/attribution.py).
    holdout_percent = FloatField(default=0, min_value=0, max_value=50)
    variants = EmbeddedDocumentListField(Variant, default=list)
    attribution_window_days = IntField(default=7, min_value=1)
    winner = EmbeddedDocumentField(WinnerTest)
    # Materialisation position: the last customer _id given a log, so a restarted
    # worker carries on where it stopped.
    cursor = ObjectIdField()
    materialized = BooleanField(default=False)
    # Messages by status, changed in the same transaction as the logs they count.
    counts = MapField(IntField(), default=dict)
    # Messages the vendor took, whatever their receipts said, kept with the counts
    # (None for campaigns sent before it was kept: counted from their logs when shown).
    vendor_accepted = IntField()
    # Chunks made so far: the next chunk's number.
    chunks = IntField(default=0)
    # Deliveries whose outcome was unknown and how they ended (crm/services/sending).
    reconciliation = MapField(IntField(), default=dict)
    # Last sign of life from the worker materialising it; the sweep restarts a stale one.
    heartbeat_at = DateTimeField()
    # The queue message that carries its materialisation on: one waiting in the queue is
    # never mistaken for a stalled one.
    materializer_message_id = StringField()
    schedule = EmbeddedDocumentField(CampaignSchedule)
    created_at = DateTimeField(default=utcnow)
    started_at = DateTimeField()
    completed_at = DateTimeField()
    # Its own frequency cap instead of the setting's, or none at all (transactional
    # messages): see crm/services/sending/exclusions.py.
    frequency_cap = EmbeddedDocumentField(FrequencyCap)
    ignore_frequency_cap = BooleanField(default=False)

    meta = {
        "collection": "campaigns",
        "indexes": [
            ("-created_at", "-_id"),
            "audience_id",
            "status",
            # The sweep's due scheduled campaigns.
            ("status", "schedule.send_at"),
        ],
    }
