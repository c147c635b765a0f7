"""Communication logs become vendor requests, one batch request per chunk.

Safe to repeat: only PENDING logs are sent, and the log id is the vendor's
idempotency key, so a chunk delivered twice reaches nobody twice.
"""

import logging
from collections.abc import Callable

from bson import ObjectId

from crm.documents import Campaign, CampaignStatus, CommunicationLog, MessageStatus
from crm.services import lifecycle
from crm.services.lifecycle import Move
from crm.vendor import OutboundMessage, VendorClient, VendorResult

log = logging.getLogger(__name__)


def deliver(
    campaign_id: ObjectId,
    log_ids: list[ObjectId],
    vendor: VendorClient,
    callback_url: str,
    take_permits: Callable[[int, int | None], int] | None = None,
) -> None:
    """Send the chunk's PENDING messages to the vendor and record its answer for each.

    Nothing is sent unless the campaign is SENDING: a paused campaign's chunks wait as
    PENDING logs for ``requeue_pending``, a cancelled one's are CANCELLED. Under a rate
    limit, each request carries only as many messages as
    ``take_permits(wanted, the campaign's own per-second limit or None)`` allows.
    """
    campaign = Campaign.objects(id=campaign_id).only("status", "rate_limit_per_second").first()
    if campaign is None or campaign.status != CampaignStatus.SENDING:
        if campaign and campaign.status == CampaignStatus.CANCELLED:
            # Logs created while the cancel was under way.
            lifecycle.move_messages(log_ids, MessageStatus.CANCELLED)
        return
    # A limit as large as the batch makes it one round trip (the default first batch is 101).
    pending = list(
        CommunicationLog._get_collection().find(
            {"_id": {"$in": log_ids}, "status": str(MessageStatus.PENDING)},
            {"to": 1, "message": 1},
            batch_size=len(log_ids),
            limit=len(log_ids),
        )
    )
    messages = [OutboundMessage(str(e["_id"]), e["to"], e["message"]) for e in pending]
    while messages:
        allowed = len(messages)
        if take_permits:
            allowed = take_permits(allowed, campaign.rate_limit_per_second)
        batch, messages = messages[:allowed], messages[allowed:]
        _record(campaign_id, vendor.send_batch(callback_url, batch))


def _record(campaign_id: ObjectId, results: list[VendorResult]) -> None:
    """The vendor's answer: accepted messages ACCEPTED, rejected ones FAILED with its reason."""
    accepted = [ObjectId(r.idempotency_key) for r in results if r.accepted]
    rejected: dict[str, list[ObjectId]] = {}
    for result in results:
        if not result.accepted:
            key = result.reason or "rejected"
            rejected.setdefault(key, []).append(ObjectId(result.idempotency_key))
    moves: list[Move] = [
        (lifecycle.with_ids(ids), MessageStatus.FAILED, reason) for reason, ids in rejected.items()
    ]
    if accepted:
        moves.append((lifecycle.with_ids(accepted), MessageStatus.ACCEPTED, None))
    lifecycle.move_messages_together(moves)
    if rejected:
        lifecycle.complete_if_done({campaign_id})


def fail_pending(log_ids: list[ObjectId], reason: str) -> None:
    """Give up on the chunk's unsent messages, e.g. once the vendor stayed down past every retry."""
    campaign_ids = set(CommunicationLog.objects(id__in=log_ids).distinct("campaign_id"))
    lifecycle.move_messages(log_ids, MessageStatus.FAILED, reason)
    lifecycle.complete_if_done(campaign_ids)
