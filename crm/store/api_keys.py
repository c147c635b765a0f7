from datetime import datetime

from bson import ObjectId
from pymongo.client_session import ClientSession

from crm.documents.api_key import ApiKey

LIVE_ADMIN = {"revoked_at": None, "$or": [{"scope": "admin"}, {"scope": None}]}


class LastAdminKey(Exception):
    pass


def revoke_admin(key_id: ObjectId, now: datetime, session: ClientSession) -> None:
    """Revoke an admin key inside the caller's transaction unless no other would stay live.

    Snapshot reads alone would let two revocations of the last two admin keys each see the
    other still live. Every admin revocation writes one guard document, so two at once
    conflict and the retried one counts what the first left.
    """
    ApiKey._get_db().key_guards.update_one(
        {"_id": "admin"}, {"$inc": {"revocations": 1}}, upsert=True, session=session
    )
    ApiKey._get_collection().update_one(
        {"_id": key_id, "revoked_at": None}, {"$set": {"revoked_at": now}}, session=session
    )
    if ApiKey._get_collection().count_documents(LIVE_ADMIN, session=session) == 0:
        raise LastAdminKey
