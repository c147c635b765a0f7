from mongoengine import (
    BooleanField,
    DateTimeField,
    Document,
    EnumField,
    IntField,
    MapField,
    ObjectIdField,
    StringField,
)

from crm.clock import utcnow
from crm.documents.status import CampaignStatus


class Campaign(Document):
    name = StringField(max_length=200)
    audience_id = ObjectIdField(required=True)
    message = StringField(required=True, max_length=2000)
    status = EnumField(CampaignStatus, default=CampaignStatus.DRAFT)
    audience_size = IntField(default=0)
    rate_limit_per_second = IntField(min_value=1)
    # Materialisation position: the last customer _id given a log, so a restarted
    # worker carries on where it stopped.
    cursor = ObjectIdField()
    materialized = BooleanField(default=False)
    # Messages by status, kept by every move (crm/services/counters.py). ``counts_exact``
    # turns false when a move could not be counted for sure; a recount restores it.
    counts = MapField(IntField(), default=dict)
    counts_exact = BooleanField(default=True)
    # Last sign of life from the worker materialising it; the sweep restarts a stale one.
    heartbeat_at = DateTimeField()
    created_at = DateTimeField(default=utcnow)
    started_at = DateTimeField()
    completed_at = DateTimeField()

    meta = {"collection": "campaigns", "indexes": ["-created_at", "audience_id", "status"]}
