"""Who may be contacted: addresses never to be sent to, and each customer's recent
contacts, the ledger frequency caps are checked against."""

from mongoengine import (
    DateTimeField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentField,
    IntField,
    ListField,
    ObjectIdField,
    StringField,
)

from crm.clock import utcnow

# The longest frequency-cap window a campaign or the setting may name; a ledger keeps
# contacts this long, and one untouched for this long is removed (a TTL index).
MAX_CAP_DAYS = 90


class Suppression(Document):
    """An address no campaign sends to (a bounce, a complaint, a request), stored
    normalised (trimmed, lower case) as the key, so each address is listed once."""

    address = StringField(primary_key=True, max_length=254)
    reason = StringField(max_length=200)
    created_at = DateTimeField(default=utcnow)

    meta = {"collection": "suppressions"}


class Contact(EmbeddedDocument):
    """When a capped campaign gave the customer a message to send."""

    at = DateTimeField(required=True)
    campaign_id = ObjectIdField(required=True)


class ContactLedger(Document):
    """A customer's contacts within the last MAX_CAP_DAYS days, at most one per campaign.
    ``version`` moves with every write, so a writer that read an older version finds its
    conditional update refused and reads again."""

    customer_id = StringField(primary_key=True, max_length=64)
    contacts = ListField(EmbeddedDocumentField(Contact))
    version = IntField(default=0)
    updated_at = DateTimeField(default=utcnow)

    meta = {
        "collection": "contact_ledger",
        "indexes": [{"fields": ["updated_at"], "expireAfterSeconds": MAX_CAP_DAYS * 86400}],
    }
