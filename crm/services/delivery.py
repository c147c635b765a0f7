"""Communication logs become vendor requests, one batch request per chunk.

Safe to repeat: the log id is the vendor's idempotency key, so a chunk delivered twice
reaches nobody twice, and its logs move only from PENDING.
"""

import logging
from collections.abc import Callable

from bson import ObjectId

from crm.documents import Campaign, CampaignStatus, MessageStatus
from crm.services import lifecycle
from crm.services.lifecycle import Move
from crm.services.materialize import ChunkMessage
from crm.vendor import OutboundMessage, VendorClient, VendorResult

log = logging.getLogger(__name__)


def deliver(
    campaign_id: ObjectId,
    chunk: list[ChunkMessage],
    vendor: VendorClient,
    callback_url: str,
    take_permits: Callable[[int, int | None], int] | None = None,
) -> None:
    """Send the chunk's messages to the vendor and record its answer for each.

    Nothing is sent unless the campaign is SENDING: a paused campaign's chunks wait as
    PENDING logs for ``requeue_pending``, a cancelled one's are CANCELLED. Under a rate
    limit, each request carries only as many messages as
    ``take_permits(wanted, the campaign's own per-second limit or None)`` allows.
    """
    campaign = Campaign.objects(id=campaign_id).only("status", "rate_limit_per_second").first()
    if campaign is None or campaign.status != CampaignStatus.SENDING:
        if campaign and campaign.status == CampaignStatus.CANCELLED:
            # Logs created while the cancel was under way.
            cancel = Move(campaign_id, MessageStatus.PENDING, MessageStatus.CANCELLED)
            lifecycle.move_messages({cancel: ids_of(chunk)})
        return
    messages = [OutboundMessage(log_id, to, body) for log_id, to, body in chunk]
    while messages:
        allowed = len(messages)
        if take_permits:
            allowed = take_permits(allowed, campaign.rate_limit_per_second)
        batch, messages = messages[:allowed], messages[allowed:]
        _record(campaign_id, vendor.send_batch(callback_url, batch))


def _record(campaign_id: ObjectId, results: list[VendorResult]) -> None:
    """The vendor's answer: accepted messages ACCEPTED, rejected ones FAILED with its reason."""
    moves: dict[Move, list[ObjectId]] = {}
    for result in results:
        if result.accepted:
            move = Move(campaign_id, MessageStatus.PENDING, MessageStatus.ACCEPTED)
        else:
            reason = result.reason or "rejected"
            move = Move(campaign_id, MessageStatus.PENDING, MessageStatus.FAILED, reason)
        moves.setdefault(move, []).append(ObjectId(result.idempotency_key))
    lifecycle.move_messages(moves)


def fail_pending(campaign_id: ObjectId, chunk: list[ChunkMessage], reason: str) -> None:
    """Give up on the chunk's unsent messages, e.g. once the vendor stayed down past every retry."""
    give_up = Move(campaign_id, MessageStatus.PENDING, MessageStatus.FAILED, reason)
    lifecycle.move_messages({give_up: ids_of(chunk)})


def ids_of(chunk: list[ChunkMessage]) -> list[ObjectId]:
    return [ObjectId(log_id) for log_id, _, _ in chunk]
