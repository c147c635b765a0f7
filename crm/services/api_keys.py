"""API keys: ``crm_<prefix>_<secret>``, random, stored as a SHA-256 hash of the secret.

The secrets are 256 random bits, so a plain hash is enough (no slow KDF is needed), and
it is compared in constant time.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta
from functools import partial

from bson import ObjectId
from mongoengine import QuerySet

from crm.clock import utcnow
from crm.documents.api_key import SCOPES, ApiKey
from crm.services.errors import Conflict, Forbidden, NotFound
from crm.store import api_keys as store
from crm.store import transaction

# Writing last_used_at on every request would double the writes; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def create(name: str, scope: str) -> tuple[ApiKey, str]:
    """A new key, and its full text — the only time the secret exists outside the client."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    key = ApiKey(name=name, prefix=prefix, secret_hash=_hash(secret), scope=scope).save()
    return key, f"crm_{prefix}_{secret}"


def authenticate(presented: str) -> ApiKey | None:
    """The live key ``presented`` is, or None; a wrong key and an unknown one look the same."""
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != "crm":
        return None
    key = ApiKey.objects(prefix=parts[1], revoked_at=None).first()
    expected = key.secret_hash if key else _hash("")
    if not hmac.compare_digest(expected, _hash(parts[2])) or key is None:
        return None
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects(id=key.id).update(set__last_used_at=now)
    return key


def listing() -> QuerySet:
    return ApiKey.objects.order_by("-created_at")


def revoke(key_id: ObjectId | str, by: ApiKey | None = None) -> ApiKey:
    """Revoke the key, as ``by`` (None: from the server's shell, with every right).

    A key cannot revoke one of a wider scope, and the last live admin key stays, so the
    API always has a key that can manage keys.
    """
    key = ApiKey.objects(id=key_id).first() if ObjectId.is_valid(key_id) else None
    if key is None:
        raise NotFound(f"No API key with id {key_id}.")
    if by is not None and not by.allows(key.effective_scope):
        raise Forbidden(
            f"A {by.effective_scope} key cannot revoke a key of scope {key.effective_scope}."
        )
    if key.revoked_at is None and key.effective_scope == "admin":
        try:
            transaction.run(partial(store.revoke_admin, key.id, utcnow()))
        except store.LastAdminKey:
            raise Conflict("This is the last admin key; create another admin key first.") from None
    else:
        ApiKey.objects(id=key.id, revoked_at=None).update(set__revoked_at=utcnow())
    key.reload()
    return key


def exist() -> bool:
    return ApiKey.objects(revoked_at=None).first() is not None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
