"""Chunks whose queue message was lost (a Redis restart without persistence, say) are
queued again, so an import always finishes. Applying a chunk twice changes nothing."""

import logging
from datetime import timedelta

from crm.clock import utcnow
from crm.documents import Ingestion, IngestionStatus
from crm.services.ingestion.intake import Publish
from crm.store import ingestions

log = logging.getLogger(__name__)


def requeue_lost_chunks(idle_for: timedelta, publish: Publish) -> int:
    """Queue again the unapplied chunks of each running job that applied nothing for
    ``idle_for``; returns how many. Each is stamped, so it waits as long again."""
    cutoff = utcnow() - idle_for
    running = [IngestionStatus.QUEUED, IngestionStatus.RUNNING]
    requeued = 0
    for job in Ingestion.objects(status__in=running).only("id", "created_at"):
        if (ingestions.last_batch_at(job.id) or job.created_at) >= cutoff:
            continue  # still moving: its chunks are only waiting their turn
        applied = ingestions.applied_chunks(job.id)
        numbers = ingestions.chunks_queued_before(job.id, cutoff, skipping=applied)
        if not numbers:
            continue
        ingestions.stamp_queued(job.id, numbers)
        for number in numbers:
            publish(str(job.id), number)
        requeued += len(numbers)
    if requeued:
        log.warning("%d import chunks had been lost by the queue; queued again", requeued)
    return requeued
