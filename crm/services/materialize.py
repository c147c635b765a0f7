"""An audience becomes communication logs: one PENDING log per member, chunk by chunk.

Safe to repeat: the position is saved after each chunk and the unique
(campaign, customer) index turns a repeated insert into a no-op.
"""

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from itertools import islice
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import BulkWriteError

from crm.clock import utcnow
from crm.documents import Campaign, CampaignStatus, CommunicationLog, Customer, MessageStatus
from crm.services import audiences, counters, lifecycle, segments, templates

log = logging.getLogger(__name__)

RENDERED_FIELDS = {name: 1 for name in templates.VARIABLES}
DUPLICATE_KEY = 11000


# One message to deliver: [log id, recipient, rendered text]. Chunks carry their messages,
# so delivering one costs no read of its logs.
ChunkMessage = list[str]


def materialize(
    campaign_id: ObjectId,
    chunk_size: int,
    enqueue_chunk: Callable[[list[ChunkMessage]], object],
) -> None:
    """Give each audience member a PENDING log; hand each chunk's messages to ``enqueue_chunk``."""
    campaign = Campaign.objects(id=campaign_id).first()
    if campaign is None or campaign.status != CampaignStatus.SENDING or campaign.materialized:
        return
    audience = audiences.get(campaign.audience_id)
    members = segments.to_filter(audience.rules, campaign.started_at)
    cursor = campaign.cursor
    query = members if cursor is None else {"$and": [members, {"_id": {"$gt": cursor}}]}
    # One query read a batch at a time (a getMore each), in _id order: the _id index gives
    # the order, so no plan should sort the audience, and a restart resumes after ``cursor``.
    audience_in_order = (
        Customer._get_collection()
        .find(query, RENDERED_FIELDS, batch_size=chunk_size)
        .sort("_id", 1)
        .hint([("_id", 1)])
    )
    with audience_in_order:
        for batch in _pages(audience_in_order, chunk_size):
            if not _materialize_page(campaign, cursor, batch, enqueue_chunk):
                return
            cursor = batch[-1]["_id"]
    size = CommunicationLog.objects(campaign_id=campaign_id).count()
    Campaign._get_collection().update_one(
        {"_id": campaign_id}, {"$set": {"materialized": True, "audience_size": size}}
    )
    lifecycle.completion_check(campaign_id)


def _pages(customers: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    while page := list(islice(customers, size)):
        yield page


def _materialize_page(
    campaign: Campaign,
    cursor: ObjectId | None,
    batch: list[dict[str, Any]],
    enqueue_chunk: Callable[[list[ChunkMessage]], object],
) -> bool:
    """Create the page's logs, save the position after it and hand its messages on;
    returns whether to go on (the campaign is still SENDING and nobody else took over)."""
    created, pending = _create_logs(campaign, batch)
    # The position and the counts move together, and only from the position this page
    # started at: a second materialiser on the same page (a restart of one thought
    # stalled) finds the cursor moved and stops without counting the page again.
    moved_on = Campaign._get_collection().find_one_and_update(
        {"_id": campaign.id, "cursor": cursor},
        {
            "$set": {"cursor": batch[-1]["_id"], "heartbeat_at": utcnow()},
            "$inc": counters.increments(created),
        },
        {"status": 1},
        return_document=ReturnDocument.AFTER,
    )
    if moved_on is None:
        log.warning("campaign_id=%s another worker is materialising it", campaign.id)
        return False
    if pending:
        enqueue_chunk(pending)
    log.info("campaign_id=%s materialised %d customers", campaign.id, len(batch))
    # Paused or cancelled: resuming carries on from the cursor.
    return moved_on["status"] == CampaignStatus.SENDING


def _create_logs(
    campaign: Campaign, customers: list[dict[str, Any]]
) -> tuple[Counter[str], list[ChunkMessage]]:
    """Insert the page's logs (those already there stay as they are); return the page's
    logs by status, to be counted, and its PENDING messages.

    Logs already there come from an attempt that stopped before saving its position, so
    they were never counted either. Only such a repeated page costs a second command, to
    find which of its logs are still PENDING.
    """
    logs = CommunicationLog._get_collection()
    now = utcnow()
    entries = [_log_entry(campaign, customer, now) for customer in customers]
    created = Counter(entry["status"] for entry in entries)
    try:
        logs.insert_many(entries, ordered=False)
    except BulkWriteError as error:
        if any(e["code"] != DUPLICATE_KEY for e in error.details["writeErrors"]):
            raise
        entries = list(
            logs.find(
                {
                    "campaign_id": campaign.id,
                    "customer_id": {"$in": [c["customer_id"] for c in customers]},
                },
                {"status": 1, "to": 1, "message": 1},
                batch_size=len(customers),
                limit=len(customers),
            ).hint([("campaign_id", 1), ("customer_id", 1)])
        )
    pending = [
        [str(e["_id"]), e["to"], e["message"]]
        for e in entries
        if e["status"] == str(MessageStatus.PENDING)
    ]
    return created, pending


def _log_entry(campaign: Campaign, customer: dict[str, Any], now: datetime) -> dict[str, Any]:
    entry = {
        "campaign_id": campaign.id,
        "customer_id": customer["customer_id"],
        "to": customer["email"],
        "status": str(MessageStatus.PENDING),
        "created_at": now,
        "updated_at": now,
    }
    try:
        entry["message"] = templates.render(campaign.message, customer)
    except Exception as error:  # a template that validated can still fail on odd data
        log.warning("campaign_id=%s render failed: %s", campaign.id, type(error).__name__)
        entry.update(message="", status=str(MessageStatus.FAILED), reason="render_error")
    return entry


def requeue_pending(
    campaign_id: ObjectId,
    chunk_size: int,
    enqueue_chunk: Callable[[list[ChunkMessage]], object],
    idle_since: datetime | None = None,
) -> int:
    """Hand the campaign's PENDING logs to workers again, in chunks; returns how many.

    With ``idle_since``, only logs untouched since then: work a crashed worker or a
    lost queue left behind. Each requeued log is touched so the next sweep skips it.
    """
    query: dict[str, Any] = {"campaign_id": campaign_id, "status": str(MessageStatus.PENDING)}
    if idle_since is not None:
        query["updated_at"] = {"$lt": idle_since}
    logs = CommunicationLog._get_collection()
    messages = [
        [str(entry["_id"]), entry["to"], entry["message"]]
        for entry in logs.find(query, {"to": 1, "message": 1}).sort("_id", 1)
    ]
    for start in range(0, len(messages), chunk_size):
        chunk = messages[start : start + chunk_size]
        logs.update_many(
            {"_id": {"$in": [ObjectId(m[0]) for m in chunk]}, "status": str(MessageStatus.PENDING)},
            {"$set": {"updated_at": utcnow()}},
        )
        enqueue_chunk(chunk)
    if messages:
        log.info("campaign_id=%s requeued %d pending messages", campaign_id, len(messages))
    return len(messages)
