"""Status changes as conditional updates: each applies only from a status the table allows,
so a redelivered task or a repeated receipt cannot act twice or move anything backwards."""

from typing import Any

from bson import ObjectId
from pymongo import UpdateMany

from crm.documents import Campaign, CampaignStatus, CommunicationLog, MessageStatus
from crm.documents.customer import utcnow
from crm.documents.status import (
    CAMPAIGN_TRANSITIONS,
    MESSAGE_TRANSITIONS,
    OPEN_MESSAGE_STATUSES,
    sources_of,
)


def move_campaign(
    campaign_id: ObjectId,
    target: CampaignStatus,
    only_if: dict[str, Any] | None = None,
    **fields: Any,
) -> bool:
    """Move to ``target`` if the status (and ``only_if``) allow; returns whether it moved."""
    query = {"_id": campaign_id, "status": {"$in": sources_of(CAMPAIGN_TRANSITIONS, target)}}
    result = Campaign._get_collection().update_one(
        {**query, **(only_if or {})}, {"$set": {"status": str(target), **fields}}
    )
    return result.modified_count == 1


# Which logs (a filter), the status to move them to, and why.
Move = tuple[dict[str, Any], MessageStatus, str | None]


def with_ids(log_ids: list[ObjectId]) -> dict[str, Any]:
    return {"_id": {"$in": log_ids}}


def move_messages(log_ids: list[ObjectId], target: MessageStatus, reason: str | None = None) -> int:
    """Move those of the logs that may reach ``target``; returns how many moved."""
    return move_messages_together([(with_ids(log_ids), target, reason)]) if log_ids else 0


def move_messages_where(
    query: dict[str, Any], target: MessageStatus, reason: str | None = None
) -> int:
    """Move every log matching ``query`` that may reach ``target``, in one command."""
    return move_messages_together([(query, target, reason)])


def move_messages_together(moves: list[Move]) -> int:
    """Several moves in one database command; returns how many logs moved."""
    if not moves:
        return 0
    now = utcnow()
    updates = []
    for query, target, reason in moves:
        changes: dict[str, Any] = {"status": str(target), "updated_at": now}
        if reason is not None:
            changes["reason"] = reason
        allowed_from = {"status": {"$in": sources_of(MESSAGE_TRANSITIONS, target)}}
        updates.append(UpdateMany({"$and": [query, allowed_from]}, {"$set": changes}))
    return CommunicationLog._get_collection().bulk_write(updates, ordered=False).modified_count


def complete_if_done(campaign_ids: set[ObjectId]) -> None:
    """Complete each fully materialised campaign that has no message left in flight."""
    logs = CommunicationLog._get_collection()
    for campaign_id in campaign_ids:
        still_open = {"campaign_id": campaign_id, "status": {"$in": OPEN_MESSAGE_STATUSES}}
        if logs.find_one(still_open, {"_id": 1}):
            continue
        move_campaign(
            campaign_id, CampaignStatus.COMPLETED, {"materialized": True}, completed_at=utcnow()
        )
