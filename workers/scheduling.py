"""Scheduled starts (crm/services/sending/schedule.py): a delayed queue message per
schedule fires it on time; the sweep (workers/sweeper.py) fires whatever that missed."""

from typing import Any

import dramatiq
from bson import ObjectId

from crm.clock import utcnow
from crm.config import Settings
from crm.documents import Campaign
from crm.services.sending import schedule
from workers import broker, sending


def defaults() -> schedule.Defaults:
    return schedule.Defaults.of(broker.settings())


@dramatiq.actor(queue_name=sending.CAMPAIGNS, **sending.RETRIES)
def fire_campaign(campaign_id: str, send_at: str) -> None:
    schedule.fire_one(
        ObjectId(campaign_id),
        send_at,
        utcnow(),
        defaults(),
        sending.enqueue_materialize,
        enqueue_fire,
    )


def start(campaign_id: ObjectId, given: dict[str, Any] | None, settings: Settings) -> Campaign:
    """Send a DRAFT campaign now or at its schedule's start (the API's and the console's)."""
    return schedule.start(
        campaign_id,
        given,
        schedule.Defaults.of(settings),
        utcnow(),
        sending.enqueue_materialize,
        enqueue_fire,
    )


def enqueue_fire(campaign_id: str, send_at: str, delay_ms: int) -> None:
    fire_campaign.send_with_options(args=(campaign_id, send_at), delay=delay_ms or None)


def fire_due() -> dict[str, int]:
    """The sweep's part: start due campaigns, and hand out chunks stuck in the delay queue."""
    now = utcnow()
    fired = schedule.fire_due(now, defaults(), sending.enqueue_materialize)
    actions = {f"schedule_{outcome}": n for outcome, n in fired.items()}
    actions["delayed_chunk_released"] = schedule.release_overdue(
        now, in_delay_queue, sending.enqueue_chunk
    )
    return actions


def in_delay_queue(message_ids: list[str]) -> set[str]:
    """Which of ``message_ids`` are still in the deliveries' delay queue (``<queue>.DQ``,
    a queue of its own to Redis)."""
    return broker.in_queue(f"{sending.DELIVERIES}.DQ", message_ids)
