from collections import Counter
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.client_session import ClientSession
from pymongo.collection import Collection

from crm.clock import utcnow
from crm.documents import Campaign, CampaignStatus, MessageStatus

# What the sending services need to know of a campaign after changing it.
STATE_FIELDS = {"status": 1, "materialized": 1, "counts": 1}
OPEN = (MessageStatus.PENDING, MessageStatus.ACCEPTED, MessageStatus.WAITING)
NOTHING_OPEN = {f"counts.{status}": {"$in": [0, None]} for status in OPEN}
# Messages the vendor took (ACCEPTED, later SENT or FAILED by its receipt): not a status.
VENDOR_ACCEPTED = "vendor_accepted"


def _campaigns() -> Collection:
    return Campaign._get_collection()


def find(
    campaign_id: ObjectId,
    fields: dict[str, int] | None = None,
    session: ClientSession | None = None,
) -> dict[str, Any] | None:
    return _campaigns().find_one({"_id": campaign_id}, fields, session=session)


def move_status(
    campaign_id: ObjectId,
    sources: list[CampaignStatus],
    target: CampaignStatus,
    only_if: dict[str, Any] | None = None,
    session: ClientSession | None = None,
    **fields: Any,
) -> bool:
    """``sources`` → ``target`` if the campaign is in one of them; returns whether it moved."""
    query = {"_id": campaign_id, "status": {"$in": [str(s) for s in sources]}, **(only_if or {})}
    update = {"$set": {"status": str(target), **fields}}
    return _campaigns().update_one(query, update, session=session).modified_count == 1


def add_counts(
    campaign_id: ObjectId,
    delta: Counter[str],
    session: ClientSession,
    tallies: Counter[str] | None = None,
) -> dict[str, Any] | None:
    """Add a change in message counts (and reconciliation tallies); returns the campaign.
    ``VENDOR_ACCEPTED`` in ``delta`` counts messages the vendor took, whatever became of
    them: a total of its own, beside the counts by status."""
    inc = {_counter(status): n for status, n in delta.items() if n}
    inc |= {f"reconciliation.{name}": n for name, n in (tallies or {}).items() if n}
    if not inc:
        return find(campaign_id, STATE_FIELDS, session)
    return _campaigns().find_one_and_update(
        {"_id": campaign_id},
        {"$inc": inc},
        STATE_FIELDS,
        return_document=ReturnDocument.AFTER,
        session=session,
    )


def _counter(key: str) -> str:
    return key if key == VENDOR_ACCEPTED else f"counts.{key}"


def complete_if_done(campaign_id: ObjectId, session: ClientSession | None = None) -> bool:
    """SENDING → COMPLETED once materialised with no message PENDING or ACCEPTED."""
    return move_status(
        campaign_id,
        [CampaignStatus.SENDING],
        CampaignStatus.COMPLETED,
        {"materialized": True, **NOTHING_OPEN},
        session,
        completed_at=utcnow(),
    )


def take_page(
    campaign_id: ObjectId,
    cursor: ObjectId | None,
    last: ObjectId,
    created: Counter[str],
    session: ClientSession,
    chunk_count: int = 1,
) -> int | None:
    """Move the materialisation position from ``cursor`` to ``last`` and count the page's
    logs, only if the campaign still sends and nobody moved the position meanwhile;
    returns the number of the page's first chunk (it takes ``chunk_count``), or None."""
    before = _campaigns().find_one_and_update(
        {"_id": campaign_id, "cursor": cursor, "status": str(CampaignStatus.SENDING)},
        {
            "$set": {"cursor": last, "heartbeat_at": utcnow()},
            "$inc": {"chunks": chunk_count, **{f"counts.{s}": n for s, n in created.items() if n}},
        },
        {"chunks": 1},
        return_document=ReturnDocument.BEFORE,
        session=session,
    )
    return None if before is None else before.get("chunks", 0)


def mark_materialized(campaign_id: ObjectId, size: int) -> None:
    _campaigns().update_one(
        {"_id": campaign_id}, {"$set": {"materialized": True, "audience_size": size}}
    )


def note_materializer(campaign_id: ObjectId, message_id: str) -> None:
    _campaigns().update_one({"_id": campaign_id}, {"$set": {"materializer_message_id": message_id}})


def beat(campaign_id: ObjectId) -> None:
    _campaigns().update_one({"_id": campaign_id}, {"$set": {"heartbeat_at": utcnow()}})


def tally(campaign_id: ObjectId, tallies: Counter[str]) -> None:
    inc = {f"reconciliation.{name}": n for name, n in tallies.items() if n}
    if inc:
        _campaigns().update_one({"_id": campaign_id}, {"$inc": inc})


def in_status(statuses: list[CampaignStatus], fields: dict[str, int]) -> list[dict[str, Any]]:
    return list(_campaigns().find({"status": {"$in": [str(s) for s in statuses]}}, fields))


def cancelled_since(since: Any) -> list[ObjectId]:
    query = {"status": str(CampaignStatus.CANCELLED), "completed_at": {"$gt": since}}
    return [c["_id"] for c in _campaigns().find(query, {"_id": 1})]


def set_counts(campaign_id: ObjectId, counts: dict[str, int]) -> None:
    _campaigns().update_one({"_id": campaign_id}, {"$set": {"counts": counts}})


def due_scheduled(now: Any, limit: int) -> list[dict[str, Any]]:
    """SCHEDULED campaigns whose start has come, earliest first (the status + send_at index)."""
    query = {"status": str(CampaignStatus.SCHEDULED), "schedule.send_at": {"$lte": now}}
    found = _campaigns().find(query, {"status": 1, "schedule": 1}, limit=limit)
    return list(found.sort("schedule.send_at", 1))


def choose_winner(
    campaign_id: ObjectId, chosen: str, figures: list[dict[str, Any]], at: Any
) -> bool:
    """Store the winning variant only if none is chosen yet and the campaign still sends;
    returns whether this call chose it."""
    query = {"_id": campaign_id, "status": str(CampaignStatus.SENDING), "winner.chosen": None}
    update = {"$set": {"winner.chosen": chosen, "winner.decided_at": at, "winner.figures": figures}}
    return _campaigns().update_one(query, update).modified_count == 1


def take_release_page(
    campaign_id: ObjectId,
    cursor: ObjectId | None,
    last: ObjectId,
    moved: Counter[str],
    session: ClientSession,
    chunk_count: int,
) -> int | None:
    """``take_page`` for the members waiting for the winner: move the release position
    from ``cursor`` to ``last`` and count the page's moves, only if the campaign still
    sends and nobody moved the position meanwhile; returns the page's first chunk number."""
    before = _campaigns().find_one_and_update(
        {"_id": campaign_id, "winner.cursor": cursor, "status": str(CampaignStatus.SENDING)},
        {
            "$set": {"winner.cursor": last, "heartbeat_at": utcnow()},
            "$inc": {"chunks": chunk_count, **{f"counts.{s}": n for s, n in moved.items() if n}},
        },
        {"chunks": 1},
        return_document=ReturnDocument.BEFORE,
        session=session,
    )
    return None if before is None else before.get("chunks", 0)


def mark_released(campaign_id: ObjectId) -> None:
    _campaigns().update_one({"_id": campaign_id}, {"$set": {"winner.released": True}})


def awaiting_winner(fields: dict[str, int]) -> list[dict[str, Any]]:
    """SENDING campaigns whose winner is not yet chosen or not yet sent to everyone."""
    query = {
        "status": str(CampaignStatus.SENDING),
        "winner": {"$type": "object"},
        "winner.released": {"$ne": True},
    }
    return list(_campaigns().find(query, fields))


def cancelled_with_waiting() -> list[ObjectId]:
    query = {"status": str(CampaignStatus.CANCELLED), "counts.WAITING": {"$gt": 0}}
    return [c["_id"] for c in _campaigns().find(query, {"_id": 1})]
