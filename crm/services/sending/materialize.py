"""An audience becomes communication logs and send chunks, a page at a time.

Each page is one transaction: its PENDING logs, its chunk, its counts and the saved
position go in together or not at all, so a restarted materialiser carries on from the
position with nothing half-written, and a second one on the same page finds the position
moved and stops.
"""

import logging
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from functools import partial
from itertools import islice
from typing import Any

from bson import ObjectId
from pymongo.client_session import ClientSession

from crm.clock import utcnow
from crm.documents import Campaign, CampaignStatus, ChunkState, Customer, MessageStatus
from crm.services import audiences, consent, segments, templates
from crm.services.sending import assignment, exclusions, queue, schedule
from crm.store import campaigns, chunks, logs, transaction

log = logging.getLogger(__name__)

RENDERED_FIELDS = {name: 1 for name in templates.VARIABLES} | exclusions.FIELDS | {"timezone": 1}


def materialize(
    campaign_id: ObjectId, chunk_size: int, enqueue_chunk: queue.EnqueueChunk, time_budget: float
) -> bool:
    """Give audience members PENDING logs, a chunk per page, for up to ``time_budget``
    seconds; returns whether there is more to do (the caller runs it again)."""
    campaign = Campaign.objects(id=campaign_id).first()
    if campaign is None or campaign.status != CampaignStatus.SENDING or campaign.materialized:
        return False
    started = time.monotonic()
    audience = audiences.get(campaign.audience_id)
    members = segments.to_filter(audience.rules, campaign.started_at)
    cursor = campaign.cursor
    query = members if cursor is None else {"$and": [members, {"_id": {"$gt": cursor}}]}
    # One query read a batch at a time (a getMore each), in _id order: the _id index gives
    # the order, so no plan sorts the audience, and a restart resumes after ``cursor``.
    audience_in_order = (
        Customer._get_collection()
        .find(query, RENDERED_FIELDS, batch_size=chunk_size)
        .sort("_id", 1)
        .hint([("_id", 1)])
    )
    with audience_in_order:
        for page in _pages(audience_in_order, chunk_size):
            made = transaction.run(partial(_take_page, campaign, cursor, page))
            if made is None:
                log.info("campaign_id=%s stopped materialising (paused or taken)", campaign_id)
                return False
            for chunk in made:
                due = chunk.get("not_before")
                delay = schedule.delay_ms(due, utcnow()) if due else 0
                queue.hand_out(chunk["_id"], enqueue_chunk, delay)
            cursor = page[-1]["_id"]
            if time.monotonic() - started > time_budget:
                return True
    campaigns.mark_materialized(campaign_id, logs.count(campaign_id))
    campaigns.complete_if_done(campaign_id)
    log.info("campaign_id=%s materialised", campaign_id)
    return False


def _pages(customers: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    while page := list(islice(customers, size)):
        yield page


def _take_page(
    campaign: Campaign,
    cursor: ObjectId | None,
    page: list[dict[str, Any]],
    session: ClientSession,
) -> list[dict[str, Any]] | None:
    """The page's logs, and a chunk for each instant some of them are due (one chunk
    unless the campaign has local send times or quiet hours)."""
    now = utcnow()
    entries = [_log_entry(campaign, customer, now) for customer in page]
    schedule.skip_passed(campaign, page, entries, now)
    screening = exclusions.screen(campaign, page, entries, now, session)
    created = Counter(entry["status"] for entry in entries)
    pending = [
        (customer, entry["_id"])
        for customer, entry in zip(page, entries, strict=True)
        if entry["status"] == MessageStatus.PENDING
    ]
    due_groups = schedule.groups(campaign, pending, now)
    last = page[-1]["_id"]
    seq = campaigns.take_page(campaign.id, cursor, last, created, session, len(due_groups) or 1)
    if seq is None:
        return None
    logs.insert(entries, session)
    screening.record(session)
    return [
        new_chunk(campaign, seq + n, ids, timing, now, session)
        for n, (ids, timing) in enumerate(due_groups)
    ]


def new_chunk(
    campaign: Campaign,
    seq: int,
    log_ids: list[ObjectId],
    timing: dict[str, Any],
    now: datetime,
    session: ClientSession,
) -> dict[str, Any]:
    chunk = {
        "_id": ObjectId(),
        "campaign_id": campaign.id,
        "seq": seq,
        "log_ids": log_ids,
        "rate_limit_per_second": campaign.rate_limit_per_second,
        "state": str(ChunkState.QUEUED),
        "message_id": None,
        "attempts": 0,
        "ambiguous": False,
        "created_at": now,
        "updated_at": now,
        **timing,
    }
    chunks.insert(chunk, session)
    return chunk


def _log_entry(campaign: Campaign, customer: dict[str, Any], now: datetime) -> dict[str, Any]:
    arm = assignment.assign(campaign, customer["customer_id"])
    entry = {
        "_id": ObjectId(),
        "campaign_id": campaign.id,
        "customer_id": customer["customer_id"],
        "to": customer["email"],
        "status": str(MessageStatus.PENDING),
        "created_at": now,
        "updated_at": now,
    }
    if arm.variant is not None:
        entry["variant"] = arm.variant
    if arm.held_out:
        return entry | {"message": "", "status": str(MessageStatus.HELD_OUT)}
    if arm.waiting:
        return entry | {"message": "", "status": str(MessageStatus.WAITING)}
    return entry | rendered(campaign.id, customer, arm.message)


def rendered(campaign_id: ObjectId, customer: dict[str, Any], template: str) -> dict[str, Any]:
    """The log fields for ``template`` rendered for ``customer``: its message, or a FAILED
    status when rendering fails."""
    try:
        linked = consent.with_unsubscribe_url(customer, campaign_id, template)
        return {"message": templates.render(template, linked)}
    except Exception as error:  # a template that validated can still fail on odd data
        log.warning("campaign_id=%s render failed: %s", campaign_id, type(error).__name__)
        return {"message": "", "status": str(MessageStatus.FAILED), "reason": "render_error"}
