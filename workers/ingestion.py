"""Bulk imports: one actor applies each stored chunk it is told of, one retries parked orders.

Both are safe to run twice: a chunk's batch key turns a second application into a
no-op, and parked orders leave parking in the transaction that applies them.
"""

import logging

import dramatiq
from bson import ObjectId
from dramatiq.middleware import CurrentMessage

from crm.services.ingestion import consumer, jobs, parking
from workers import broker

log = logging.getLogger(__name__)

CHUNK_ATTEMPTS = 5


@dramatiq.actor(
    queue_name="ingestion",
    max_retries=CHUNK_ATTEMPTS - 1,
    min_backoff=1_000,
    max_backoff=60_000,
    time_limit=10 * 60 * 1000,
)
def ingest_chunk(ingestion_id: str, number: int) -> None:
    job_id = ObjectId(ingestion_id)
    try:
        outcome = consumer.apply_stored_chunk(
            job_id, number, broker.settings().ingest_transaction_seconds
        )
    except Exception as error:
        message = CurrentMessage.get_current_message()
        retries = message.options.get("retries", 0) if message else 0
        if retries + 1 < CHUNK_ATTEMPTS:
            log.warning(
                "ingestion_id=%s chunk %d failed, retrying: %r", ingestion_id, number, error
            )
            raise
        log.exception("ingestion_id=%s chunk %d failed %d times", ingestion_id, number, retries + 1)
        jobs.fail(job_id, f"Chunk {number} could not be applied ({type(error).__name__}).")
        return
    if outcome.left_parked:
        delay = parking.delay_ms(broker.settings().ingest_park_seconds, 0)
        retry_parked.send_with_options(args=(ingestion_id, 0), delay=delay)
    if outcome.job_done:
        jobs.drop_chunks(job_id)  # only now: until the retries are queued, a redelivery needs it


@dramatiq.actor(
    queue_name="ingestion",
    max_retries=5,
    min_backoff=1_000,
    max_backoff=60_000,
    time_limit=10 * 60 * 1000,
)
def retry_parked(ingestion_id: str, attempt: int) -> None:
    delay = parking.retry(ObjectId(ingestion_id), attempt, broker.settings().ingest_park_seconds)
    if delay is not None:
        log.info(
            "ingestion_id=%s orders still parked; retry %d in %d ms",
            ingestion_id,
            attempt + 1,
            delay,
        )
        retry_parked.send_with_options(args=(ingestion_id, attempt + 1), delay=delay)
