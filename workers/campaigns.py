"""Campaign sending: one actor turns the audience into logs, another delivers each chunk.

Dramatiq's default of 20 retries over days is wrong for messages people are waiting
on, so every actor states its own limits.
"""

import logging
import random
import threading
from functools import partial

import dramatiq
from bson import ObjectId
from dramatiq.middleware import CurrentMessage

from crm.services import delivery, lifecycle, materialize
from crm.services.materialize import ChunkMessage
from crm.vendor import VendorClient, VendorRejected, VendorUnavailable
from workers import settings
from workers.rate_limit import RateLimit

log = logging.getLogger(__name__)

DELIVERY_ATTEMPTS = 6
MAX_BACKOFF_MS = 60_000

_local = threading.local()


def _vendor() -> VendorClient:
    """One client, so one connection pool, per worker thread."""
    clients = _local.__dict__.setdefault("clients", {})
    if settings.vendor_url not in clients:
        clients[settings.vendor_url] = VendorClient(
            settings.vendor_url, settings.vendor_timeout_seconds
        )
    return clients[settings.vendor_url]


@dramatiq.actor(
    queue_name="campaigns",
    max_retries=10,
    min_backoff=1_000,
    max_backoff=MAX_BACKOFF_MS,
    time_limit=60 * 60 * 1000,
)
def materialize_campaign(campaign_id: str) -> None:
    materialize.materialize(
        ObjectId(campaign_id),
        settings.send_chunk_size,
        lambda chunk: _enqueue_chunk(campaign_id, chunk),
    )


def _enqueue_chunk(campaign_id: str, chunk: list[ChunkMessage]) -> None:
    deliver_chunk.send(campaign_id, chunk)


@dramatiq.actor(
    queue_name="campaigns", max_retries=10, min_backoff=1_000, max_backoff=MAX_BACKOFF_MS
)
def resume_campaign(campaign_id: str) -> None:
    """After a pause: hand out the PENDING logs again, then materialise whatever is left."""
    materialize.requeue_pending(
        ObjectId(campaign_id),
        settings.send_chunk_size,
        lambda chunk: _enqueue_chunk(campaign_id, chunk),
    )
    materialize_campaign(campaign_id)
    lifecycle.completion_check(ObjectId(campaign_id))


@dramatiq.actor(
    queue_name="deliveries",
    max_retries=DELIVERY_ATTEMPTS,
    min_backoff=1_000,
    max_backoff=MAX_BACKOFF_MS,
    time_limit=5 * 60 * 1000,
)
def deliver_chunk(campaign_id: str, chunk: list[ChunkMessage]) -> None:
    """Deliver one chunk of ``[log id, recipient, text]`` messages."""
    callback_url = f"{settings.public_url.rstrip('/')}/api/sendCampaign/deliveryReceipts"
    try:
        delivery.deliver(
            ObjectId(campaign_id),
            chunk,
            _vendor(),
            callback_url,
            partial(_take_permits, campaign_id),
        )
    except VendorRejected as error:
        log.error("campaign_id=%s vendor refused a chunk (%d)", campaign_id, error.status_code)
        delivery.fail_pending(ObjectId(campaign_id), chunk, f"vendor_rejected_{error.status_code}")
    except VendorUnavailable as error:
        message = CurrentMessage.get_current_message()
        retries = message.options.get("retries", 0) if message else 0
        if retries + 1 >= DELIVERY_ATTEMPTS:
            log.error("campaign_id=%s vendor unavailable, giving up: %s", campaign_id, error)
            delivery.fail_pending(ObjectId(campaign_id), chunk, "vendor_unavailable")
            return
        log.warning("campaign_id=%s vendor unavailable, retrying: %s", campaign_id, error)
        raise dramatiq.Retry(str(error), delay=_backoff_ms(retries, error.retry_after)) from None


def _take_permits(campaign_id: str, wanted: int, per_second: int | None) -> int:
    per_second = per_second or settings.send_rate_per_second
    if not per_second:
        return wanted
    client = dramatiq.get_broker().client  # type: ignore[attr-defined]
    return RateLimit(client, f"campaign:{campaign_id}", per_second).take(wanted)


def _backoff_ms(retries: int, retry_after: float | None) -> int:
    if retry_after is not None:
        return int(retry_after * 1000)
    return min(MAX_BACKOFF_MS, int(1000 * 2**retries * random.uniform(0.5, 1.5)))
