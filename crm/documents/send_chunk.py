from mongoengine import (
    BooleanField,
    DateTimeField,
    DictField,
    Document,
    EnumField,
    IntField,
    ListField,
    ObjectIdField,
    StringField,
)

from crm.clock import utcnow
from crm.documents.status import ChunkState


class SendChunk(Document):
    """Up to one vendor batch of a campaign's messages, and who is sending it.

    The queue message that hands it to a worker carries only this chunk's id. A worker
    takes a lease on it before sending; the sweep hands it out again only when the lease
    expired or ``message_id`` is no longer in the queue.
    """

    campaign_id = ObjectIdField(required=True)
    seq = IntField(required=True)
    log_ids = ListField(ObjectIdField())
    rate_limit_per_second = IntField()
    state = EnumField(ChunkState, default=ChunkState.QUEUED)
    # The Dramatiq message that will hand it out, while QUEUED.
    message_id = StringField()
    lease_owner = StringField()
    lease_until = DateTimeField()
    attempts = IntField(default=0)
    # A request for it may have reached the vendor with no answer seen: ask the vendor
    # which messages it has before sending any again.
    ambiguous = BooleanField(default=False)
    # When the vendor first failed to take it, for the outage budget.
    failing_since = DateTimeField()
    # Not sent before this (its members' local send time, the end of their quiet hours):
    # a worker handed it earlier puts it back in the queue, delayed.
    not_before = DateTimeField()
    # Not sent after this (its due time and the campaign's late limit): past it, its
    # members are SKIPPED local_time_passed.
    send_by = DateTimeField()
    # Its members' time zones and the campaign's quiet hours, checked again before each
    # request, so a chunk held up (an outage, a rate limit) never sends inside them.
    zones = ListField(StringField())
    quiet_hours = DictField()
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    meta = {
        "collection": "send_chunks",
        "indexes": [
            {"fields": ["campaign_id", "seq"], "unique": True},
            ("campaign_id", "state"),
            ("state", "updated_at"),
        ],
    }
