from mongoengine import DateTimeField, Document, StringField

from crm.clock import utcnow


class ApiKey(Document):
    """A REST client's key. Only a hash of the secret is kept; the key is shown once."""

    name = StringField(required=True, max_length=100)
    # The key's public part, ``crm_<prefix>``, finds the document; the hash checks the rest.
    prefix = StringField(required=True, unique=True)
    secret_hash = StringField(required=True)
    created_at = DateTimeField(default=utcnow)
    last_used_at = DateTimeField()
    revoked_at = DateTimeField()

    meta = {"collection": "api_keys"}
