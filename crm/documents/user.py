from mongoengine import BooleanField, DateTimeField, Document, EmailField, IntField, StringField

from crm.clock import utcnow

# What a console user may do, each role including the ones after it.
ROLES = ("admin", "marketer", "viewer")


class User(Document):
    """A person signing in to the console. Only a salted scrypt hash of the password is kept."""

    email = EmailField(required=True, unique=True, max_length=254)
    password_hash = StringField(required=True)
    salt = StringField(required=True)
    role = StringField(required=True, choices=ROLES)
    # A generated password (shown to whoever created the user) must be replaced by one of
    # the user's own at the first sign-in.
    must_change_password = BooleanField(default=False)
    created_at = DateTimeField(default=utcnow)
    last_signed_in_at = DateTimeField()
    # A deactivated user cannot sign in, and their sessions end; an admin may reactivate.
    deactivated_at = DateTimeField()
    # A session holds the epoch its user had at its sign-in and ends once it has changed:
    # on signing out, deactivation, and a new role or password. Never decreases, so
    # undoing a change does not bring old sessions back.
    session_epoch = IntField(default=0)

    meta = {
        "collection": "users",
        # Users written before sign-in was throttled outside the database hold the
        # per-account lock's fields (failed_attempts, locked_until), no longer read.
        "strict": False,
        "indexes": [("-created_at", "-_id")],
    }

    def allows(self, role: str) -> bool:
        """Whether this user's role includes ``role``."""
        return ROLES.index(self.role) <= ROLES.index(role)
