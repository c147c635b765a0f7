"""Campaign sending actors (crm/services/sending). Each takes ids only, is safe to run
twice, and returns within a minute: longer work hands itself on to a new message.

Dramatiq's default of 20 retries over days is wrong for messages people are waiting on,
so every actor states its own limits; a vendor outage is not an actor failure (delivery
schedules its own retries), so retries here cover the database and Redis only.
"""

import threading
from datetime import timedelta
from typing import Any

import dramatiq
from bson import ObjectId

from crm.clock import utcnow
from crm.documents import Campaign
from crm.queue import broker
from crm.queue.broker import CAMPAIGNS, DELIVERIES
from crm.queue.handles import enqueue_materialize
from crm.queue.rate_limit import RateLimit
from crm.services import variants
from crm.services.sending import control, delivery, materialize, schedule, winner
from crm.vendor import VendorClient

RETRIES: dict[str, Any] = {
    "max_retries": 20,
    "min_backoff": 1_000,
    "max_backoff": 60_000,
    "time_limit": 120_000,
}

_local = threading.local()


def vendor() -> VendorClient:
    """One client, so one connection pool, per worker thread."""
    settings = broker.settings()
    clients = _local.__dict__.setdefault("clients", {})
    if settings.vendor_url not in clients:
        clients[settings.vendor_url] = VendorClient(
            settings.vendor_url, settings.vendor_timeout_seconds
        )
    return clients[settings.vendor_url]


@dramatiq.actor(queue_name=CAMPAIGNS, **RETRIES)
def materialize_campaign(campaign_id: str) -> None:
    more = materialize.materialize(
        ObjectId(campaign_id), broker.settings().send_chunk_size, enqueue_chunk, time_budget=30
    )
    if more:
        enqueue_materialize(campaign_id)
    else:
        _choose_winner_when_due(campaign_id)


@dramatiq.actor(queue_name=CAMPAIGNS, **RETRIES)
def choose_winner(campaign_id: str) -> None:
    """Choose an automatic winner once due, then send it to the waiting members, a share
    per call."""
    chunk_size = broker.settings().send_chunk_size
    if winner.step(ObjectId(campaign_id), utcnow(), chunk_size, enqueue_chunk, time_budget=30):
        choose_winner.send(campaign_id)


def _choose_winner_when_due(campaign_id: str) -> None:
    """The fast path: a delayed message at the winner's decision time (the sweep finds
    any the queue lost, or that came while the campaign was paused)."""
    campaign = Campaign.objects(id=campaign_id).only("winner", "started_at").first()
    decide_at = variants.decide_at(campaign) if campaign else None
    if decide_at is not None and not campaign.winner.released:
        delay = schedule.delay_ms(decide_at, utcnow())
        choose_winner.send_with_options(args=(campaign_id,), delay=delay or None)


@dramatiq.actor(queue_name=DELIVERIES, **RETRIES)
def deliver_chunk(chunk_id: str) -> None:
    settings = broker.settings()
    outlet = delivery.Outlet(
        vendor=vendor(),
        callback_url=f"{settings.public_url.rstrip('/')}/api/sendCampaign/deliveryReceipts",
        enqueue_chunk=enqueue_chunk,
        take_permits=_take_permits,
        lease=timedelta(seconds=settings.send_lease_seconds),
        outage_budget=timedelta(seconds=settings.vendor_outage_budget_seconds),
    )
    delivery.deliver(ObjectId(chunk_id), outlet)


@dramatiq.actor(queue_name=CAMPAIGNS, **RETRIES)
def resume_campaign(campaign_id: str) -> None:
    """Hand a resumed campaign's paused chunks out again, a batch per call; then go on
    materialising whatever is left."""
    if control.hand_out_paused(ObjectId(campaign_id), enqueue_chunk) == control.BATCH:
        resume_campaign.send(campaign_id)
    else:
        enqueue_materialize(campaign_id)


@dramatiq.actor(queue_name=CAMPAIGNS, **RETRIES)
def cancel_campaign(campaign_id: str) -> None:
    """Cancel a cancelled campaign's waiting messages, a batch of chunks per call."""
    if control.cancel_messages(ObjectId(campaign_id), vendor()) == control.BATCH:
        cancel_campaign.send(campaign_id)


def enqueue_chunk(chunk_id: str, delay_ms: int = 0) -> str:
    """Queue ``deliver_chunk``; returns the id under which Redis keeps the message."""
    message = deliver_chunk.send_with_options(args=(chunk_id,), delay=delay_ms or None)
    return message.options["redis_message_id"]


def in_queue(message_ids: list[str]) -> set[str]:
    return broker.get().in_queue(DELIVERIES, message_ids)


def in_campaigns_queue(message_ids: list[str]) -> set[str]:
    return broker.get().in_queue(CAMPAIGNS, message_ids)


def _take_permits(campaign_id: ObjectId, wanted: int, per_second: int | None) -> int:
    per_second = per_second or broker.settings().send_rate_per_second
    if not per_second:
        return wanted
    return RateLimit(broker.redis_client(), f"campaign:{campaign_id}", per_second).take(wanted)
