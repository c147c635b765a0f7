from enum import StrEnum

from mongoengine import DateTimeField, Document, EnumField, StringField

from crm.clock import utcnow


class TestMessageStatus(StrEnum):
    SENDING = "SENDING"  # handed to the vendor; its answer not recorded yet
    ACCEPTED = "ACCEPTED"  # the vendor took it
    REFUSED = "REFUSED"  # the vendor refused it (its answer says why)
    NOT_SENT = "NOT_SENT"  # the vendor was unreachable and certainly did not take it
    UNKNOWN = "UNKNOWN"  # the request failed after it may have reached the vendor


class TestMessage(Document):
    """One message sent to one customer to try a campaign's text, apart from any campaign:
    it has no communication log and changes no campaign's counts. ``key`` is the sender's
    idempotency key: a repeated request with it finds this document and sends nothing."""

    __test__ = False  # not a pytest class, whatever its name

    key = StringField(required=True, unique=True, max_length=64)
    customer_id = StringField(required=True, max_length=64)
    to = StringField(required=True)
    message = StringField(required=True, max_length=2000)
    body = StringField(required=True)
    status = EnumField(TestMessageStatus, default=TestMessageStatus.SENDING)
    reason = StringField()
    requested_by = StringField(max_length=254)
    created_at = DateTimeField(default=utcnow)
    finished_at = DateTimeField()

    meta = {"collection": "test_messages", "indexes": [("-created_at", "-_id")]}
