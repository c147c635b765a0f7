"""What the API, the console, the CLI and the workers put on the queue, by actor name.

The actors themselves are declared by the workers (workers/, ``dramatiq workers:boot``);
a message names its actor and queue, so a process that only sends needs neither.
tests/test_queue_layout.py checks that every handle names an actor the workers declare,
on the same queue.
"""

from dataclasses import dataclass
from typing import Any

import dramatiq
from bson import ObjectId

from crm.clock import utcnow
from crm.config import Settings
from crm.documents import Campaign
from crm.queue import broker
from crm.queue.broker import CAMPAIGNS, INGESTION, RECEIPTS
from crm.services.sending import schedule
from crm.store import campaigns


@dataclass(frozen=True)
class Handle:
    queue_name: str
    actor_name: str

    def send(self, *args: Any, delay_ms: int = 0) -> str:
        """Queue a message to the actor (after ``delay_ms``, when given); returns the id
        under which Redis keeps it."""
        message: dramatiq.Message[Any] = dramatiq.Message(
            queue_name=self.queue_name,
            actor_name=self.actor_name,
            args=args,
            kwargs={},
            options={},
        )
        enqueued = broker.get().enqueue(message, delay=delay_ms or None)
        return enqueued.options["redis_message_id"]


MATERIALIZE_CAMPAIGN = Handle(CAMPAIGNS, "materialize_campaign")
FIRE_CAMPAIGN = Handle(CAMPAIGNS, "fire_campaign")
RESUME_CAMPAIGN = Handle(CAMPAIGNS, "resume_campaign")
CANCEL_CAMPAIGN = Handle(CAMPAIGNS, "cancel_campaign")
INGEST_CHUNK = Handle(INGESTION, "ingest_chunk")
APPLY_RECEIPTS = Handle(RECEIPTS, "apply_receipts")
ALL = (
    MATERIALIZE_CAMPAIGN,
    FIRE_CAMPAIGN,
    RESUME_CAMPAIGN,
    CANCEL_CAMPAIGN,
    INGEST_CHUNK,
    APPLY_RECEIPTS,
)


def enqueue_materialize(campaign_id: str) -> str:
    """Queue ``materialize_campaign``, noting the message on the campaign so that the sweep
    can tell a materialisation waiting in the queue from one whose message was lost."""
    message_id = MATERIALIZE_CAMPAIGN.send(campaign_id)
    campaigns.note_materializer(ObjectId(campaign_id), message_id)
    return message_id


def enqueue_fire(campaign_id: str, send_at: str, delay_ms: int) -> None:
    FIRE_CAMPAIGN.send(campaign_id, send_at, delay_ms=delay_ms)


def enqueue_import_chunk(
    ingestion_id: str, number: int, delay_ms: int = 0, attempt: int = 0
) -> str:
    """Queue ``ingest_chunk``; returns the id under which Redis keeps the message."""
    return INGEST_CHUNK.send(ingestion_id, number, attempt, delay_ms=delay_ms)


def start_campaign(
    campaign_id: ObjectId, given: dict[str, Any] | None, settings: Settings
) -> Campaign:
    """Send a DRAFT campaign now or at its schedule's start (the API's and the console's)."""
    return schedule.start(
        campaign_id,
        given,
        schedule.Defaults.of(settings),
        utcnow(),
        enqueue_materialize,
        enqueue_fire,
    )
