"""Changes to console users that must leave an active admin."""

from typing import Any

from bson import ObjectId
from pymongo.client_session import ClientSession

from crm.documents import User

ACTIVE_ADMIN = {"role": "admin", "deactivated_at": None}


class LastAdmin(Exception):
    pass


def change_keeping_an_admin(
    user_id: ObjectId, update: dict[str, Any], session: ClientSession
) -> None:
    """Apply ``update`` to the user inside the caller's transaction unless no active admin
    would be left.

    Snapshot reads alone would let two admins demoting each other at once each see the
    other still an admin. Every such change writes one guard document, so two at once
    conflict and the retried one counts what the first left.
    """
    User._get_db().user_guards.update_one(
        {"_id": "admin"}, {"$inc": {"changes": 1}}, upsert=True, session=session
    )
    User._get_collection().update_one({"_id": user_id}, update, session=session)
    if User._get_collection().count_documents(ACTIVE_ADMIN, session=session) == 0:
        raise LastAdmin
