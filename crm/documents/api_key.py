from mongoengine import DateTimeField, Document, StringField

from crm.clock import utcnow

# What a key may do, each scope including the ones after it.
SCOPES = ("admin", "write", "read")


class ApiKey(Document):
    """A REST client's key. Only a hash of the secret is kept; the key is shown once."""

    name = StringField(required=True, max_length=100)
    # The key's public part, ``crm_<prefix>``, finds the document; the hash checks the rest.
    prefix = StringField(required=True, unique=True)
    secret_hash = StringField(required=True)
    # Keys stored before scopes existed have none, and keep the admin rights they had.
    scope = StringField(choices=SCOPES)
    created_at = DateTimeField(default=utcnow)
    last_used_at = DateTimeField()
    revoked_at = DateTimeField()

    meta = {"collection": "api_keys", "indexes": [("-created_at", "-_id")]}

    @property
    def effective_scope(self) -> str:
        return self.scope or "admin"

    def allows(self, scope: str) -> bool:
        """Whether this key's scope includes ``scope``."""
        return SCOPES.index(self.effective_scope) <= SCOPES.index(scope)
