"""The workers' half of an import: apply one published chunk, then see if the job is done."""

import logging
from typing import Any

from bson import ObjectId

from crm.documents.customer import utcnow
from crm.services.ingestion import jobs, load_customers, load_orders, parking
from crm.services.ingestion.kinds import ORDERS

log = logging.getLogger(__name__)


def apply_chunk(ingestion_id: ObjectId, number: int, rows: list[list[Any]]) -> bool:
    """Apply chunk ``number`` of the job (again: harmlessly); returns True if the job is done
    and left orders parked, whose retries the caller should then schedule.

    A redelivered last chunk returns True again, so a worker that died between finishing
    the job and scheduling the retries loses nothing; the retries' own compare-and-set
    (``parking.retry``) keeps a second chain from starting.
    """
    job = jobs.begin_chunk(ingestion_id)
    if job is None:
        log.warning(
            "ingestion_id=%s chunk %d dropped: the job is gone or failed", ingestion_id, number
        )
        return False
    if job["kind"] == "customers":
        created = load_customers.apply_chunk(ingestion_id, number, rows)
        applied = created is not None
        parking.settle_customers(created or [])
    else:
        now = utcnow()
        placed = [(row, {**ORDERS.to_document(order), "created_at": now}) for row, order in rows]
        applied = load_orders.apply(ingestion_id, f"chunk:{number}", number, placed) is not None
    outcome = "applied" if applied else "had been applied already"
    log.info("ingestion_id=%s chunk %d %s", ingestion_id, number, outcome)
    if not jobs.complete_if_done(ingestion_id, job["chunks"]):
        return False
    log.info("ingestion_id=%s done", ingestion_id)
    return jobs.sums(ingestion_id)["parked"] > 0
