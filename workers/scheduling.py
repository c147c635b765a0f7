"""Scheduled starts (crm/services/sending/schedule.py): a delayed queue message per
schedule fires it on time; the sweep (workers/sweeper.py) fires whatever that missed."""

import dramatiq
from bson import ObjectId

from crm.clock import utcnow
from crm.queue import broker
from crm.queue.broker import CAMPAIGNS, DELIVERIES
from crm.queue.handles import enqueue_fire, enqueue_materialize
from crm.services.sending import schedule
from workers import sending


def defaults() -> schedule.Defaults:
    return schedule.Defaults.of(broker.settings())


@dramatiq.actor(queue_name=CAMPAIGNS, **sending.RETRIES)
def fire_campaign(campaign_id: str, send_at: str) -> None:
    schedule.fire_one(
        ObjectId(campaign_id),
        send_at,
        utcnow(),
        defaults(),
        enqueue_materialize,
        enqueue_fire,
    )


def fire_due() -> dict[str, int]:
    """The sweep's part: start due campaigns, and hand out chunks stuck in the delay queue."""
    now = utcnow()
    fired = schedule.fire_due(now, defaults(), enqueue_materialize)
    actions = {f"schedule_{outcome}": n for outcome, n in fired.items()}
    actions["delayed_chunk_released"] = schedule.release_overdue(
        now, in_delay_queue, sending.enqueue_chunk
    )
    return actions


def in_delay_queue(message_ids: list[str]) -> set[str]:
    """Which of ``message_ids`` are still in the deliveries' delay queue (``<queue>.DQ``,
    a queue of its own to Redis)."""
    return broker.get().in_queue(f"{DELIVERIES}.DQ", message_ids)
