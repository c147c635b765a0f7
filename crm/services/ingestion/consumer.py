"""The workers' half of an import: apply one published chunk, then see if the job is done."""

import logging
from dataclasses import dataclass
from typing import Any

from bson import ObjectId

from crm.clock import utcnow
from crm.services.ingestion import jobs, load_customers, load_orders, parking
from crm.services.ingestion.kinds import ORDERS
from crm.store import ingestions, transaction

log = logging.getLogger(__name__)


@dataclass
class ChunkOutcome:
    job_done: bool = False
    # Orders the job left parked, whose retries the caller should then schedule.
    left_parked: bool = False


def apply_stored_chunk(
    ingestion_id: ObjectId, number: int, time_budget: float | None = None
) -> ChunkOutcome:
    """``apply_chunk`` on the stored chunk; a chunk no longer stored belongs to a job that
    has ended, so there is nothing left to do."""
    rows = ingestions.chunk_rows(ingestion_id, number)
    if rows is None:
        log.info("ingestion_id=%s chunk %d: the job has ended", ingestion_id, number)
        return ChunkOutcome()
    return apply_chunk(ingestion_id, number, rows, time_budget)


def apply_chunk(
    ingestion_id: ObjectId, number: int, rows: list[list[Any]], time_budget: float | None = None
) -> ChunkOutcome:
    """Apply chunk ``number`` of the job (again: harmlessly) and say whether the job is done.

    Each transaction has ``time_budget`` seconds (see ``transaction.run``): a chunk that
    does not fit is applied in halves, and each half that does not fit in halves again.

    A redelivered last chunk reports the job done again, so a worker that died between
    finishing the job and scheduling the parked orders' retries loses nothing; the
    retries' own compare-and-set (``parking.retry``) keeps a second chain from starting.
    """
    job = jobs.begin_chunk(ingestion_id)
    if job is None:
        log.warning(
            "ingestion_id=%s chunk %d dropped: the job is gone or failed", ingestion_id, number
        )
        return ChunkOutcome()
    applied = _apply_in_parts(job["kind"], ingestion_id, number, rows, time_budget)
    outcome = "applied" if applied else "had been applied already"
    log.info("ingestion_id=%s chunk %d %s", ingestion_id, number, outcome)
    if not jobs.complete_if_done(ingestion_id, job["chunks"]):
        return ChunkOutcome()
    log.info("ingestion_id=%s done", ingestion_id)
    left_parked = ingestions.batch_sums(ingestion_id)["parked"] > 0
    return ChunkOutcome(job_done=True, left_parked=left_parked)


def _apply_in_parts(
    kind: str, ingestion_id: ObjectId, number: int, rows: list[list[Any]], budget: float | None
) -> bool:
    """Apply the chunk whole, or the parts of it not yet applied (an earlier attempt split
    it); returns whether anything was applied now."""
    done = ingestions.applied_parts(ingestion_id, number)
    waiting = jobs.Part.rest(number, len(rows), done)
    applied = False
    while waiting:
        part = waiting.pop(0)
        try:
            applied |= _apply_part(kind, ingestion_id, part, part.of(rows), budget)
        except transaction.OutOfTime:
            if part.end - part.start < 2:
                raise
            log.warning(
                "ingestion_id=%s chunk %d rows %d-%d did not fit in one transaction; "
                "applying them in halves",
                ingestion_id,
                number,
                part.start,
                part.end,
            )
            waiting[:0] = part.halves()
    return applied


def _apply_part(
    kind: str, ingestion_id: ObjectId, part: jobs.Part, rows: list[list[Any]], budget: float | None
) -> bool:
    if kind == "customers":
        created = load_customers.apply_part(ingestion_id, part, rows, budget)
        parking.settle_customers(created or [])
        return created is not None
    now = utcnow()
    placed = [(row, {**ORDERS.to_document(order), "created_at": now}) for row, order in rows]
    return load_orders.apply(ingestion_id, part, placed, time_budget=budget) is not None
