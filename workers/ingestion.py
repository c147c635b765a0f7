"""Bulk imports: one actor applies each stored chunk it is told of, one retries parked orders.

Both are safe to run twice: a chunk's batch key turns a second application into a
no-op, and parked orders leave parking in the transaction that applies them.
"""

import logging

import dramatiq
import pymongo.errors
import redis.exceptions
from bson import ObjectId

from crm.queue import broker
from crm.queue.broker import INGESTION
from crm.queue.handles import enqueue_import_chunk
from crm.services.ingestion import consumer, jobs, parking
from crm.store import ingestions, transaction

log = logging.getLogger(__name__)

# A chunk that fails for another reason than a transient one (the database or the queue
# out of reach, a transaction out of time or in conflict) is tried this many times, then
# its job is FAILED; POST /api/ingestions/<id>/resume takes it up again.
CHUNK_ATTEMPTS = 5
# Waits between tries: doubling from the first, at most the last (transient errors are
# tried again for as long as they last).
FIRST_RETRY_MS = 500
LONGEST_RETRY_MS = 5 * 60 * 1000
TRANSIENT = (
    pymongo.errors.ConnectionFailure,
    pymongo.errors.ExecutionTimeout,
    pymongo.errors.WTimeoutError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    transaction.OutOfTime,
    transaction.KeptChanging,
)


# Retried by the actor itself, each try a new queue message noted on the chunk (so the
# sweep can tell a chunk waiting for its retry from one whose message was lost).
@dramatiq.actor(queue_name=INGESTION, max_retries=0, time_limit=10 * 60 * 1000)
def ingest_chunk(ingestion_id: str, number: int, attempt: int = 0) -> None:
    job_id = ObjectId(ingestion_id)
    budget = broker.settings().ingest_transaction_seconds
    try:
        outcome = consumer.apply_stored_chunk(job_id, number, budget)
    except Exception as error:
        if _transient(error) or attempt + 1 < CHUNK_ATTEMPTS:
            delay = min(FIRST_RETRY_MS * 2**attempt, LONGEST_RETRY_MS)
            log.warning(
                "ingestion_id=%s chunk %d failed (try %d), trying again in %d ms: %r",
                ingestion_id,
                number,
                attempt + 1,
                delay,
                error,
            )
            ingestions.note_message(
                job_id, number, enqueue_import_chunk(ingestion_id, number, delay, attempt + 1)
            )
            return
        log.exception("ingestion_id=%s chunk %d failed %d times", ingestion_id, number, attempt + 1)
        jobs.fail(
            job_id,
            f"Chunk {number} could not be applied ({type(error).__name__}); "
            "resume the import to try it again.",
        )
        return
    if outcome.left_parked:
        delay = parking.delay_ms(broker.settings().ingest_park_seconds, 0)
        retry_parked.send_with_options(args=(ingestion_id, 0), delay=delay)
    if outcome.job_done:
        jobs.drop_chunks(job_id)  # only now: until the retries are queued, a redelivery needs it


def _transient(error: BaseException) -> bool:
    if isinstance(error, TRANSIENT):
        return True
    labels = ("TransientTransactionError", "RetryableWriteError")
    return isinstance(error, pymongo.errors.PyMongoError) and any(
        error.has_error_label(label) for label in labels
    )


def in_queue(message_ids: list[str]) -> set[str]:
    return broker.get().in_queue(INGESTION, message_ids)


@dramatiq.actor(
    queue_name=INGESTION,
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
