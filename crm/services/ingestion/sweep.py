"""Chunks whose queue message was lost (a Redis restart without persistence, say) are
queued again, so an import always finishes. Applying a chunk twice changes nothing."""

import logging
from datetime import timedelta

from crm.clock import utcnow
from crm.documents import Ingestion, IngestionBatch, IngestionChunk, IngestionStatus
from crm.services.ingestion.intake import Publish

log = logging.getLogger(__name__)


def requeue_lost_chunks(idle_for: timedelta, publish: Publish) -> int:
    """Queue again the unapplied chunks of each running job that applied nothing for
    ``idle_for``; returns how many. Each is stamped, so it waits as long again."""
    cutoff = utcnow() - idle_for
    batches, chunks = IngestionBatch._get_collection(), IngestionChunk._get_collection()
    running = [IngestionStatus.QUEUED, IngestionStatus.RUNNING]
    requeued = 0
    for job in Ingestion.objects(status__in=running).only("id", "created_at"):
        last = batches.find_one(
            {"ingestion_id": job.id}, {"created_at": 1}, sort=[("created_at", -1)]
        )
        if (last["created_at"] if last else job.created_at) >= cutoff:
            continue  # still moving: its chunks are only waiting their turn
        applied = batches.distinct("chunk", {"ingestion_id": job.id, "chunk": {"$ne": None}})
        lost = {"ingestion_id": job.id, "queued_at": {"$lt": cutoff}, "number": {"$nin": applied}}
        numbers = chunks.distinct("number", lost)
        if not numbers:
            continue
        chunks.update_many(
            {"ingestion_id": job.id, "number": {"$in": numbers}}, {"$set": {"queued_at": utcnow()}}
        )
        for number in numbers:
            publish(str(job.id), number)
        requeued += len(numbers)
    if requeued:
        log.warning("%d import chunks had been lost by the queue; queued again", requeued)
    return requeued
