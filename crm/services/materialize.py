"""An audience becomes communication logs: one PENDING log per member, chunk by chunk.

Safe to repeat: the position is saved after each chunk and the unique
(campaign, customer) index turns a repeated insert into a no-op.
"""

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo.errors import BulkWriteError

from crm.documents import Campaign, CampaignStatus, CommunicationLog, Customer, MessageStatus
from crm.documents.customer import utcnow
from crm.services import audiences, lifecycle, segments, templates

log = logging.getLogger(__name__)

RENDERED_FIELDS = {name: 1 for name in templates.VARIABLES}
DUPLICATE_KEY = 11000


def materialize(
    campaign_id: ObjectId, chunk_size: int, enqueue_chunk: Callable[[list[str]], object]
) -> None:
    """Give each audience member a PENDING log, handing each chunk's ids to ``enqueue_chunk``."""
    campaign = Campaign.objects(id=campaign_id).first()
    if campaign is None or campaign.status != CampaignStatus.SENDING or campaign.materialized:
        return
    audience = audiences.get(campaign.audience_id)
    members = segments.to_filter(audience.rules, campaign.started_at)
    customers = Customer._get_collection()
    cursor = campaign.cursor
    while True:
        query = members if cursor is None else {"$and": [members, {"_id": {"$gt": cursor}}]}
        page = customers.find(query, RENDERED_FIELDS, batch_size=chunk_size, limit=chunk_size)
        # Paging by _id: the _id index gives the order, so no plan should sort the audience.
        batch = list(page.sort("_id", 1).hint([("_id", 1)]))
        if not batch:
            break
        pending = _create_logs(campaign, batch)
        if pending:
            enqueue_chunk(pending)
        cursor = batch[-1]["_id"]
        still_sending = Campaign._get_collection().update_one(
            {"_id": campaign_id, "status": str(CampaignStatus.SENDING)},
            {"$set": {"cursor": cursor, "heartbeat_at": utcnow()}},
        )
        log.info("campaign_id=%s materialised %d customers", campaign_id, len(batch))
        if not still_sending.modified_count:
            return  # paused or cancelled; resuming carries on from the cursor
    size = CommunicationLog.objects(campaign_id=campaign_id).count()
    Campaign._get_collection().update_one(
        {"_id": campaign_id}, {"$set": {"materialized": True, "audience_size": size}}
    )
    lifecycle.complete_if_done({campaign_id})


def _create_logs(campaign: Campaign, customers: list[dict[str, Any]]) -> list[str]:
    """Insert the chunk's logs (those already there stay as they are); return its PENDING ids.

    Only a repeated chunk (a redelivered or restarted materialisation) costs a second
    command, to find which of its logs are still PENDING.
    """
    logs = CommunicationLog._get_collection()
    now = utcnow()
    entries = [_log_entry(campaign, customer, now) for customer in customers]
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
                {"status": 1},
                batch_size=len(customers),
                limit=len(customers),
            ).hint([("campaign_id", 1), ("customer_id", 1)])
        )
    return [str(e["_id"]) for e in entries if e["status"] == str(MessageStatus.PENDING)]


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
    enqueue_chunk: Callable[[list[str]], object],
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
    ids = [entry["_id"] for entry in logs.find(query, {"_id": 1}).sort("_id", 1)]
    for start in range(0, len(ids), chunk_size):
        chunk = ids[start : start + chunk_size]
        logs.update_many(
            {"_id": {"$in": chunk}, "status": str(MessageStatus.PENDING)},
            {"$set": {"updated_at": utcnow()}},
        )
        enqueue_chunk([str(i) for i in chunk])
    if ids:
        log.info("campaign_id=%s requeued %d pending messages", campaign_id, len(ids))
    return len(ids)
