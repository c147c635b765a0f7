from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import UpdateOne
from pymongo.client_session import ClientSession
from pymongo.collection import Collection

from crm.documents import CommunicationLog, MessageStatus

# (log id, status it must have, fields to set): one conditional update of a log.
LogUpdate = tuple[ObjectId, MessageStatus, dict[str, Any]]


RECIPIENT_FIELDS = {"customer_id": 1, "to": 1, "message": 1}


def _logs() -> Collection:
    return CommunicationLog._get_collection()


def insert(entries: list[dict[str, Any]], session: ClientSession) -> None:
    if entries:
        _logs().insert_many(entries, session=session)


def pending(log_ids: list[ObjectId]) -> list[dict[str, Any]]:
    """The logs among ``log_ids`` still PENDING, with their recipient and what is sent."""
    if not log_ids:
        return []
    query = {"_id": {"$in": log_ids}, "status": str(MessageStatus.PENDING)}
    size = len(log_ids)
    return list(_logs().find(query, RECIPIENT_FIELDS, batch_size=size, limit=size).sort("_id", 1))


def customers_where(
    query: dict[str, Any], status: MessageStatus, session: ClientSession
) -> list[str]:
    """The customers of the logs matching ``query`` that are in ``status``."""
    found = _logs().find({**query, "status": str(status)}, {"customer_id": 1}, session=session)
    return [entry["customer_id"] for entry in found]


def statuses(log_ids: list[ObjectId], session: ClientSession | None = None) -> dict[ObjectId, dict]:
    """Each known log's campaign and status, by id."""
    if not log_ids:
        return {}
    size = len(log_ids)
    found = _logs().find(
        {"_id": {"$in": log_ids}},
        {"campaign_id": 1, "status": 1},
        batch_size=size,
        limit=size,
        session=session,
    )
    return {entry["_id"]: entry for entry in found}


def update_each(updates: list[LogUpdate], session: ClientSession) -> int:
    """Apply each conditional update in one bulk write; returns how many logs changed."""
    if not updates:
        return 0
    statements = [
        UpdateOne({"_id": log_id, "status": str(source)}, {"$set": changes})
        for log_id, source, changes in updates
    ]
    return _logs().bulk_write(statements, ordered=False, session=session).modified_count


def update_where(
    query: dict[str, Any], source: MessageStatus, changes: dict[str, Any], session: ClientSession
) -> int:
    """Set ``changes`` on every log matching ``query`` that is in ``source``; returns how many."""
    result = _logs().update_many(
        {**query, "status": str(source)}, {"$set": changes}, session=session
    )
    return result.modified_count


def count_by_status(campaign_id: ObjectId) -> dict[str, int]:
    pipeline: list[dict[str, Any]] = [
        {"$match": {"campaign_id": campaign_id}},
        {"$group": {"_id": "$status", "n": {"$sum": 1}}},
    ]
    return {row["_id"]: row["n"] for row in _logs().aggregate(pipeline)}


def count(campaign_id: ObjectId) -> int:
    return _logs().count_documents({"campaign_id": campaign_id})


def accepted_before(
    campaign_id: ObjectId, cutoff: datetime, after: ObjectId | None, limit: int
) -> list[dict[str, Any]]:
    """A page of the campaign's logs ACCEPTED before ``cutoff``, in ``_id`` order."""
    query: dict[str, Any] = {
        "campaign_id": campaign_id,
        "status": str(MessageStatus.ACCEPTED),
        "updated_at": {"$lt": cutoff},
    }
    if after is not None:
        query["_id"] = {"$gt": after}
    found = _logs().find(query, {"updated_at": 1}, batch_size=limit, limit=limit).sort("_id", 1)
    return list(found)


def open_exists(campaign_id: ObjectId) -> bool:
    open_statuses = [str(MessageStatus.PENDING), str(MessageStatus.ACCEPTED)]
    query = {"campaign_id": campaign_id, "status": {"$in": open_statuses}}
    return _logs().find_one(query, {"_id": 1}) is not None


def in_status_after(
    campaign_id: ObjectId, status: MessageStatus, after: ObjectId | None, limit: int
) -> list[dict[str, Any]]:
    """A page of the campaign's logs in ``status``, in ``_id`` order after ``after``."""
    query: dict[str, Any] = {"campaign_id": campaign_id, "status": str(status)}
    if after is not None:
        query["_id"] = {"$gt": after}
    found = _logs().find(query, {"customer_id": 1, "to": 1}, batch_size=limit, limit=limit)
    return list(found.sort("_id", 1))
