from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.client_session import ClientSession
from pymongo.collection import Collection

from crm.clock import utcnow
from crm.documents import ChunkState, SendChunk


def _chunks() -> Collection:
    return SendChunk._get_collection()


def insert(chunk: dict[str, Any], session: ClientSession) -> None:
    _chunks().insert_one(chunk, session=session)


def lease(chunk_id: ObjectId, owner: str, until: datetime) -> dict[str, Any] | None:
    """QUEUED → LEASED by ``owner`` until ``until``; None if it is not QUEUED."""
    return _chunks().find_one_and_update(
        {"_id": chunk_id, "state": str(ChunkState.QUEUED)},
        {
            "$set": {
                "state": str(ChunkState.LEASED),
                "lease_owner": owner,
                "lease_until": until,
                "message_id": None,
                "updated_at": utcnow(),
            },
            "$inc": {"attempts": 1},
        },
        return_document=ReturnDocument.AFTER,
    )


def update_leased(
    chunk_id: ObjectId,
    owner: str,
    changes: dict[str, Any],
    session: ClientSession | None = None,
) -> bool:
    """Change a chunk ``owner`` still holds; False if its lease went to someone else."""
    result = _chunks().update_one(
        {"_id": chunk_id, "state": str(ChunkState.LEASED), "lease_owner": owner},
        {"$set": {**changes, "updated_at": utcnow()}},
        session=session,
    )
    return result.matched_count == 1


def renew(owners: dict[ObjectId, str], until: datetime) -> int:
    """Extend the leases ``owners`` (chunk id → lease owner) still hold to ``until``."""
    held = [{"_id": chunk_id, "lease_owner": owner} for chunk_id, owner in owners.items()]
    result = _chunks().update_many(
        {"$or": held, "state": str(ChunkState.LEASED)}, {"$set": {"lease_until": until}}
    )
    return result.modified_count


def set_state(
    query: dict[str, Any], target: ChunkState, session: ClientSession | None = None, **fields: Any
) -> int:
    result = _chunks().update_many(
        query, {"$set": {"state": str(target), "updated_at": utcnow(), **fields}}, session=session
    )
    return result.modified_count


def requeue(chunk: dict[str, Any], **fields: Any) -> bool:
    """Back to QUEUED with no queue message, if found as it was (state and queue message
    unchanged since read); returns whether it was."""
    result = _chunks().update_one(
        {"_id": chunk["_id"], "state": chunk["state"], "message_id": chunk.get("message_id")},
        {
            "$set": {
                "state": str(ChunkState.QUEUED),
                "message_id": None,
                "lease_owner": None,
                "updated_at": utcnow(),
                **fields,
            }
        },
    )
    return result.modified_count == 1


def note_message(chunk_id: ObjectId, message_id: str) -> None:
    _chunks().update_one(
        {"_id": chunk_id, "state": str(ChunkState.QUEUED), "message_id": None},
        {"$set": {"message_id": message_id}},
    )


def find(query: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    fields = {"log_ids": 0}
    return list(_chunks().find(query, fields, batch_size=limit, limit=limit).sort("_id", 1))


def log_ids(chunk_id: ObjectId) -> list[ObjectId]:
    chunk = _chunks().find_one({"_id": chunk_id}, {"log_ids": 1})
    return chunk["log_ids"] if chunk else []


def expired_leases(now: datetime, limit: int) -> list[dict[str, Any]]:
    return find({"state": str(ChunkState.LEASED), "lease_until": {"$lt": now}}, limit)


def queued_before(cutoff: datetime, after: ObjectId | None, limit: int) -> list[dict[str, Any]]:
    query: dict[str, Any] = {"state": str(ChunkState.QUEUED), "updated_at": {"$lt": cutoff}}
    if after is not None:
        query["_id"] = {"$gt": after}
    return find(query, limit)


def campaigns_with(state: ChunkState) -> list[ObjectId]:
    """The campaigns that have chunks in ``state``."""
    return _chunks().distinct("campaign_id", {"state": str(state)})
