"""Chunks whose queue message was lost (a Redis restart without persistence, say) are
queued again, so an import always finishes. A chunk is handed out again only when its
message is provably gone: one still waiting, delayed for a retry or being worked on,
however long it takes, is left alone. Applying a chunk twice changes nothing."""

import logging
from collections.abc import Callable
from datetime import timedelta

from crm.clock import utcnow
from crm.documents import Ingestion, IngestionStatus
from crm.services.ingestion.jobs import Publish
from crm.store import ingestions

log = logging.getLogger(__name__)

# in_queue(message_ids) -> those still in the ingestion queue
InQueue = Callable[[list[str]], set[str]]


def requeue_lost_chunks(idle_for: timedelta, in_queue: InQueue, publish: Publish) -> int:
    """Queue again the unapplied chunks, queued at least ``idle_for`` ago, of each running
    job that applied nothing for ``idle_for``, whose queue message is gone; returns how many."""
    cutoff = utcnow() - idle_for
    running = [IngestionStatus.QUEUED, IngestionStatus.RUNNING]
    requeued = 0
    for job in Ingestion.objects(status__in=running).only("id", "created_at"):
        if (ingestions.last_batch_at(job.id) or job.created_at) >= cutoff:
            continue  # still moving: its chunks are only waiting their turn
        applied = ingestions.applied_chunks(job.id)
        waiting = ingestions.chunks_queued_before(job.id, cutoff, skipping=applied)
        present = in_queue([chunk["message_id"] for chunk in waiting if chunk.get("message_id")])
        lost = [chunk["number"] for chunk in waiting if chunk.get("message_id") not in present]
        for number in lost:
            ingestions.note_message(job.id, number, publish(str(job.id), number))
        requeued += len(lost)
    if requeued:
        log.warning("%d import chunks had been lost by the queue; queued again", requeued)
    return requeued
