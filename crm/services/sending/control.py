"""Starting, pausing, resuming and cancelling a campaign.

Each operation changes the campaign's status at once and hands the rest to the workers
through the ``enqueue`` callable it is given; if that fails, it undoes its change and
raises ``QueueUnavailable``. Work that grows with the campaign (handing chunks out again,
cancelling their messages) runs in the background in bounded batches.
"""

import logging
from collections.abc import Callable
from contextlib import suppress
from functools import partial
from typing import Any

from bson import ObjectId
from pymongo.client_session import ClientSession

from crm.clock import utcnow
from crm.documents import Audience, Campaign, CampaignStatus, ChunkState, MessageStatus
from crm.services import audiences
from crm.services.errors import InvalidInput, InvalidTransition, NotFound, QueueUnavailable
from crm.services.sending import queue, reconcile
from crm.services.sending.moves import LeaseLost, Move, move_where
from crm.store import campaigns, chunks, logs, transaction
from crm.vendor import VendorClient

log = logging.getLogger(__name__)

Enqueue = Callable[[str], object]
BATCH = 100
WAITING_BATCH = 1000


def start(campaign_id: ObjectId, enqueue_materialize: Enqueue, **fields: Any) -> Campaign:
    """DRAFT → SENDING (setting ``fields`` too), then the workers materialise and send it.
    An audience without members now is refused: such a send would reach no one."""
    campaign = _get(campaign_id)
    audience = Audience.objects(id=campaign.audience_id).only("rules").first()
    if audience is None:
        raise InvalidTransition("The campaign's audience was deleted; it cannot be sent.")
    if campaign.status != CampaignStatus.DRAFT:  # not a DRAFT is the refusal, whatever its audience
        raise InvalidTransition(
            f"Campaign {campaign_id} is {campaign.status}; it cannot become SENDING."
        )
    if not audiences.count(audience.rules, utcnow()):
        raise InvalidInput(
            "The campaign's audience has no members now; there is no one to send it to.",
            {"campaign_id": ["Its audience has 0 members."]},
        )
    _move(
        campaign_id, [CampaignStatus.DRAFT], CampaignStatus.SENDING, started_at=utcnow(), **fields
    )
    try:
        enqueue_materialize(str(campaign_id))
    except Exception as error:
        campaigns.move_status(
            campaign_id,
            [CampaignStatus.SENDING],
            CampaignStatus.DRAFT,
            {"cursor": None},
            started_at=None,
        )
        raise QueueUnavailable("The send queue is unreachable; try again shortly.") from error
    return _get(campaign_id)


def pause(campaign_id: ObjectId) -> Campaign:
    """Stop handing out chunks; a chunk being sent stops after its current request, and
    messages already with the vendor still get their receipts."""
    _move(campaign_id, [CampaignStatus.SENDING], CampaignStatus.PAUSED)
    chunks.set_state(
        {"campaign_id": campaign_id, "state": str(ChunkState.QUEUED)}, ChunkState.PAUSED
    )
    return _get(campaign_id)


def resume(campaign_id: ObjectId, enqueue_resume: Enqueue) -> Campaign:
    """PAUSED → SENDING; the workers hand its paused chunks out again."""
    _move(campaign_id, [CampaignStatus.PAUSED], CampaignStatus.SENDING)
    try:
        enqueue_resume(str(campaign_id))
    except Exception as error:
        campaigns.move_status(campaign_id, [CampaignStatus.SENDING], CampaignStatus.PAUSED)
        raise QueueUnavailable("The send queue is unreachable; try again shortly.") from error
    return _get(campaign_id)


def cancel(campaign_id: ObjectId, enqueue_cancel: Enqueue) -> Campaign:
    """Stop the campaign for good. Chunks not being sent are cancelled now and their
    messages in the background; a chunk being sent stops after its current request."""
    waiting = [
        CampaignStatus.DRAFT,
        CampaignStatus.SCHEDULED,
        CampaignStatus.SENDING,
        CampaignStatus.PAUSED,
    ]
    _move(campaign_id, waiting, CampaignStatus.CANCELLED, completed_at=utcnow())
    idle = [str(ChunkState.QUEUED), str(ChunkState.PAUSED)]
    chunks.set_state({"campaign_id": campaign_id, "state": {"$in": idle}}, ChunkState.CANCELLED)
    try:
        enqueue_cancel(str(campaign_id))
    except Exception:
        log.warning("campaign_id=%s cancel queued for the sweep instead", campaign_id)
    return _get(campaign_id)


def hand_out_paused(campaign_id: ObjectId, enqueue_chunk: queue.EnqueueChunk) -> int:
    """Queue one batch of a SENDING campaign's paused chunks; returns how many."""
    query = {"campaign_id": campaign_id, "state": str(ChunkState.PAUSED)}
    batch = chunks.find(query, BATCH)
    for chunk in batch:
        if chunks.requeue(chunk):
            queue.hand_out(chunk["_id"], enqueue_chunk)
    return len(batch)


def cancel_messages(campaign_id: ObjectId, vendor: VendorClient) -> int:
    """Cancel the PENDING messages of one batch of a cancelled campaign's chunks, then
    its messages waiting for a winner; returns how many chunks (BATCH: call again). A
    chunk that may have reached the vendor is looked up first."""
    query = {"campaign_id": campaign_id, "state": str(ChunkState.CANCELLED)}
    batch = chunks.find(query, BATCH)
    for chunk in batch:
        held_as = {"_id": chunk["_id"], "state": str(ChunkState.CANCELLED)}
        with suppress(LeaseLost):  # another call cancelled it first
            cancel_chunk(chunk, chunks.log_ids(chunk["_id"]), vendor, held_as)
    if len(batch) < BATCH and _cancel_waiting(campaign_id) == WAITING_BATCH:
        return BATCH
    return len(batch)


def _cancel_waiting(campaign_id: ObjectId) -> int:
    """WAITING → CANCELLED for one batch of a cancelled campaign's logs; returns how many."""
    campaign = campaigns.find(campaign_id, {"status": 1})
    if campaign is None or campaign["status"] != CampaignStatus.CANCELLED:
        return 0
    waiting = logs.in_status_after(campaign_id, MessageStatus.WAITING, None, WAITING_BATCH)
    if not waiting:
        return 0
    ids = [entry["_id"] for entry in waiting]
    transaction.run(partial(_cancel_logs, campaign_id, ids, MessageStatus.WAITING))
    return len(waiting)


def cancel_chunk(
    chunk: dict[str, Any], log_ids: list[ObjectId], vendor: VendorClient, held_as: dict[str, Any]
) -> None:
    """Cancel what is still PENDING of a chunk found by ``held_as`` (as its caller holds
    it) and mark it DONE; if it may have reached the vendor, ask the vendor first."""
    if chunk.get("ambiguous"):
        pending_ids = [entry["_id"] for entry in logs.pending(log_ids)]
        reconcile.held_by_vendor(chunk["campaign_id"], pending_ids, vendor)
    transaction.run(partial(_cancel_chunk, chunk["campaign_id"], log_ids, held_as))


def _cancel_chunk(
    campaign_id: ObjectId, log_ids: list[ObjectId], held_as: dict[str, Any], session: ClientSession
) -> None:
    _cancel_logs(campaign_id, log_ids, MessageStatus.PENDING, session)
    if not chunks.set_state(held_as, ChunkState.DONE, session, lease_owner=None):
        raise LeaseLost


def _cancel_logs(
    campaign_id: ObjectId, log_ids: list[ObjectId], source: MessageStatus, session: ClientSession
) -> None:
    """Those of ``log_ids`` still in ``source`` → CANCELLED, their contacts given back."""
    move_where(
        {"_id": {"$in": log_ids}}, Move(campaign_id, source, MessageStatus.CANCELLED), session
    )


def _get(campaign_id: ObjectId) -> Campaign:
    campaign = Campaign.objects(id=campaign_id).first()
    if campaign is None:
        raise NotFound(f"No campaign with id {campaign_id}.")
    return campaign


def _move(
    campaign_id: ObjectId, sources: list[CampaignStatus], target: CampaignStatus, **fields
) -> None:
    if not campaigns.move_status(campaign_id, sources, target, **fields):
        status = _get(campaign_id).status
        raise InvalidTransition(f"Campaign {campaign_id} is {status}; it cannot become {target}.")
