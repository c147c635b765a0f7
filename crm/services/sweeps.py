"""Periodic repairs that make every campaign finish, whatever crashed on the way.

- A message the vendor accepted but never reported on is FAILED (``receipt_timeout``).
- PENDING messages nobody touched for a while (their worker died, or Redis lost its
  queue) are handed to the workers again; the vendor's idempotency key makes a second
  hand-off harmless.
- A campaign whose materialisation stopped beating is materialised again from its cursor.
- A finished campaign whose counts went inexact is recounted from its logs.
"""

import logging
from collections.abc import Callable
from datetime import timedelta
from functools import partial

from bson import ObjectId
from mongoengine import Q

from crm.clock import utcnow
from crm.documents import Campaign, CampaignStatus, MessageStatus
from crm.services import counters, lifecycle, materialize
from crm.services.lifecycle import Move

log = logging.getLogger(__name__)


def fail_silent_messages(receipt_timeout: timedelta) -> int:
    """FAIL messages accepted longer than ``receipt_timeout`` ago; returns how many."""
    cutoff = utcnow() - receipt_timeout
    silent = {"updated_at": {"$lt": cutoff}}
    # Only these can have messages with the vendor (a cancelled campaign's last ones time
    # out one timeout after the cancel); each look is an index range.
    waiting = Q(status__in=[CampaignStatus.SENDING, CampaignStatus.PAUSED]) | Q(
        status=CampaignStatus.CANCELLED, completed_at__gt=cutoff - receipt_timeout
    )
    moved = 0
    for campaign_id in Campaign.objects(waiting).scalar("id"):
        timed_out = Move(
            campaign_id, MessageStatus.ACCEPTED, MessageStatus.FAILED, "receipt_timeout"
        )
        moved += lifecycle.move_messages_where(silent, timed_out)
    if moved:
        log.warning("%d messages had no receipt within %s", moved, receipt_timeout)
    return moved


def settle_counts(settled_for: timedelta) -> None:
    """Complete SENDING campaigns nothing else completed (say, a worker died between moving
    logs and counting the move, so the counts still show them in flight), and recount
    campaigns finished for ``settled_for`` whose counts are inexact (by then no count of a
    move is still on its way)."""
    sending = Campaign._get_collection().find(
        {"status": str(CampaignStatus.SENDING), "materialized": True}, counters.COMPLETION_FIELDS
    )
    lifecycle.complete_if_done(list(sending), look_anyway=True)
    inexact = Campaign.objects(
        status__in=counters.SETTLED,
        counts_exact=False,
        completed_at__lt=utcnow() - settled_for,
    )
    for campaign_id in inexact.scalar("id"):
        counters.recount(campaign_id, repair=True)


def resume_stalled(
    idle_for: timedelta,
    chunk_size: int,
    enqueue_chunk: Callable[[str, list[materialize.ChunkMessage]], object],
    enqueue_materialize: Callable[[str], object],
) -> None:
    """Requeue orphaned PENDING work and restart stalled materialisation of SENDING campaigns."""
    idle_since = utcnow() - idle_for
    for campaign in Campaign.objects(status=CampaignStatus.SENDING).only(
        "id", "materialized", "heartbeat_at", "started_at"
    ):
        campaign_id = str(campaign.id)
        materialize.requeue_pending(
            campaign.id, chunk_size, partial(enqueue_chunk, campaign_id), idle_since
        )
        last_sign = campaign.heartbeat_at or campaign.started_at
        if not campaign.materialized and last_sign and last_sign < idle_since:
            _beat(campaign.id)
            log.warning("campaign_id=%s materialisation stalled; restarting it", campaign_id)
            enqueue_materialize(campaign_id)


def _beat(campaign_id: ObjectId) -> None:
    Campaign._get_collection().update_one(
        {"_id": campaign_id}, {"$set": {"heartbeat_at": utcnow()}}
    )
