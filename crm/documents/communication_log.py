from mongoengine import DateTimeField, Document, EnumField, ObjectIdField, StringField

from crm.clock import utcnow
from crm.documents.status import MessageStatus


class CommunicationLog(Document):
    campaign_id = ObjectIdField(required=True)
    customer_id = StringField(required=True)
    to = StringField(required=True)
    message = StringField(required=True)
    status = EnumField(MessageStatus, default=MessageStatus.PENDING)
    reason = StringField()
    # The message variant this member got (A, B, …), for a campaign with variants.
    variant = StringField()
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    # When the vendor took the message (the touch time attribution counts from).
    accepted_at = DateTimeField()

    meta = {
        "collection": "communication_logs",
        "indexes": [
            {"fields": ["campaign_id", "customer_id"], "unique": True},
            # Counts and completion by status; the sweeps' "idle since" by updated_at.
            ("campaign_id", "status", "updated_at"),
            ("campaign_id", "_id"),
            ("campaign_id", "status", "_id"),  # a page of one status
            # Attribution: a customer's later touches, from any campaign.
            ("customer_id", "accepted_at"),
        ],
    }
