"""Periodic repairs that make every campaign finish, whatever crashed on the way.

A chunk is handed out again only when it is provably lost:
- its lease expired (the worker that took it died or stalled): it may have reached the
  vendor, so it goes back marked ambiguous and is looked up before anything is resent;
- it is QUEUED but its queue message no longer exists (Redis lost it). Waiting in the
  queue, however long, is never lost.
Also: paused chunks of a campaign that was resumed meanwhile are handed out, cancelled
chunks (and messages waiting for a winner) have their messages cancelled, an automatic
winner due to be chosen (or still being sent) is handed to a worker, a stalled
materialisation restarts from its saved position, and messages accepted long ago without
a receipt are looked up at the vendor.
"""

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from bson import ObjectId

from crm.clock import utcnow
from crm.documents import Campaign, CampaignStatus, ChunkState
from crm.services import variants
from crm.services.sending import control, queue, reconcile
from crm.store import campaigns, chunks
from crm.vendor import VendorClient, VendorUnavailable

log = logging.getLogger(__name__)

PAGE = 500
# (queue message ids) → those still in the queue
InQueue = Callable[[list[str]], set[str]]


def requeue_expired_leases(enqueue_chunk: queue.EnqueueChunk) -> int:
    """Chunks whose worker died holding them: back to the queue (or paused, or cancelled,
    after their campaign), marked ambiguous so the vendor is asked before any resend."""
    status_of: dict[ObjectId, str] = {}
    handed = 0
    while expired := chunks.expired_leases(utcnow(), PAGE):
        handed_now = 0
        for chunk in expired:
            campaign_id = chunk["campaign_id"]
            if campaign_id not in status_of:
                campaign = campaigns.find(campaign_id, {"status": 1})
                status_of[campaign_id] = campaign["status"] if campaign else "CANCELLED"
            handed_now += _hand_back(chunk, status_of[campaign_id], enqueue_chunk)
        handed += handed_now
        if len(expired) < PAGE or not handed_now:
            break
    if handed:
        log.warning("%d chunks whose lease expired were handed out again", handed)
    return handed


def _hand_back(chunk: dict, status: str, enqueue_chunk: queue.EnqueueChunk) -> int:
    if status == CampaignStatus.SENDING:
        if chunks.requeue(chunk, ambiguous=True):
            queue.hand_out(chunk["_id"], enqueue_chunk)
            return 1
        return 0
    state = ChunkState.PAUSED if status == CampaignStatus.PAUSED else ChunkState.CANCELLED
    query = {
        "_id": chunk["_id"],
        "state": str(ChunkState.LEASED),
        "lease_owner": chunk["lease_owner"],
    }
    return chunks.set_state(query, state, ambiguous=True, lease_owner=None)


def requeue_lost(idle_for: timedelta, in_queue: InQueue, enqueue_chunk: queue.EnqueueChunk) -> int:
    """QUEUED chunks idle for ``idle_for`` whose queue message is gone: queued again."""
    cutoff = utcnow() - idle_for
    after = None
    requeued = 0
    while page := chunks.queued_before(cutoff, after, PAGE):
        after = page[-1]["_id"]
        present = in_queue([c["message_id"] for c in page if c.get("message_id")])
        for chunk in page:
            if chunk.get("message_id") in present:
                continue
            if chunks.requeue(chunk):
                queue.hand_out(chunk["_id"], enqueue_chunk)
                requeued += 1
    if requeued:
        log.warning("%d chunks whose queue message was lost were queued again", requeued)
    return requeued


def resume_and_cancel(enqueue_chunk: queue.EnqueueChunk, vendor: VendorClient) -> None:
    """Finish what a resume or a cancel left undone (its background task was lost)."""
    for campaign_id in chunks.campaigns_with(ChunkState.PAUSED):
        campaign = campaigns.find(campaign_id, {"status": 1})
        if campaign and campaign["status"] == CampaignStatus.SENDING:
            while control.hand_out_paused(campaign_id, enqueue_chunk) == control.BATCH:
                pass
    cancelled = {*chunks.campaigns_with(ChunkState.CANCELLED), *campaigns.cancelled_with_waiting()}
    for campaign_id in cancelled:
        try:
            while control.cancel_messages(campaign_id, vendor) == control.BATCH:
                pass
        except VendorUnavailable as error:
            log.warning("campaign_id=%s cancel waits for the vendor: %s", campaign_id, error)


def restart_stalled(
    idle_for: timedelta, in_queue: InQueue, enqueue_materialize: Callable[[str], object]
) -> int:
    """Restart the materialisation of SENDING campaigns idle for ``idle_for`` whose queue
    message is gone (lost with Redis, or never sent); returns how many."""
    idle_since = utcnow() - idle_for
    fields = {"materialized": 1, "heartbeat_at": 1, "started_at": 1, "materializer_message_id": 1}
    idle = [
        campaign
        for campaign in campaigns.in_status([CampaignStatus.SENDING], fields)
        if not campaign.get("materialized")
        and (last_sign := campaign.get("heartbeat_at") or campaign.get("started_at"))
        and last_sign < idle_since
    ]
    present = in_queue(
        [c["materializer_message_id"] for c in idle if c.get("materializer_message_id")]
    )
    restarted = 0
    for campaign in idle:
        if campaign.get("materializer_message_id") in present:
            continue
        campaigns.beat(campaign["_id"])
        log.warning("campaign_id=%s materialisation lost; restarting it", campaign["_id"])
        enqueue_materialize(str(campaign["_id"]))
        restarted += 1
    return restarted


def look_up_silent(receipt_timeout: timedelta, vendor: VendorClient) -> Counter[str]:
    """Ask the vendor about messages accepted more than ``receipt_timeout`` ago with no
    receipt; fail only those it does not know, or that stay unresolved four times as long.
    Returns how many were recovered and lost."""
    found: Counter[str] = Counter()
    now = utcnow()
    accepted_before, give_up_before = now - receipt_timeout, now - 4 * receipt_timeout
    open_statuses = [CampaignStatus.SENDING, CampaignStatus.PAUSED]
    waiting: Iterable[ObjectId] = [c["_id"] for c in campaigns.in_status(open_statuses, {"_id": 1})]
    waiting = [*waiting, *campaigns.cancelled_since(give_up_before - receipt_timeout)]
    for campaign_id in waiting:
        try:
            found += reconcile.silent_messages(campaign_id, accepted_before, give_up_before, vendor)
        except VendorUnavailable as error:
            log.warning("receipt look-ups wait for the vendor: %s", error)
            break
    return found


def winners_due(now: datetime, idle_for: timedelta, enqueue_winner: Callable[[str], object]) -> int:
    """Hand to a worker each SENDING campaign whose winner is due to be chosen or sent
    to the waiting members, unless a worker has been at it within ``idle_for``; returns
    how many."""
    handed = 0
    fields = {"winner": 1, "started_at": 1, "materialized": 1, "heartbeat_at": 1}
    for found in campaigns.awaiting_winner(fields):
        campaign = Campaign._from_son(found)
        decide_at = variants.decide_at(campaign)
        if not campaign.materialized or decide_at is None or decide_at > now:
            continue
        beat = campaign.heartbeat_at
        if beat is None or beat < now - idle_for:
            enqueue_winner(str(campaign.id))
            handed += 1
    return handed


def complete_finished() -> None:
    """Complete SENDING campaigns with nothing left in flight (normally done by the move
    that settled their last message)."""
    for campaign in campaigns.in_status([CampaignStatus.SENDING], {"materialized": 1}):
        if campaign.get("materialized"):
            campaigns.complete_if_done(campaign["_id"])
