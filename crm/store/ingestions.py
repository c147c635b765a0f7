"""Queries on bulk imports: the jobs (``Ingestion``), the batches whose sums are their
counts (``IngestionBatch``) and the stored chunks of their uploads (``IngestionChunk``),
so the ingestion services read as domain steps. Parked orders are in ``parked_orders``.

Functions that take a ``session`` run inside the caller's transaction (``transaction.run``).
"""

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import UpdateOne
from pymongo.client_session import ClientSession
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from crm.clock import utcnow
from crm.documents import (
    Ingestion,
    IngestionBatch,
    IngestionChunk,
    IngestionRejection,
    IngestionStatus,
)

# The most rows a chunk holds: a batch without ``end`` applied its chunk whole.
MAX_ROWS = 2**31 - 1
# The counts each batch carries; a job's counts are their sums.
BATCH_COUNTS = ("inserted", "updated", "duplicates", "rejected", "parked")


def _jobs() -> Collection:
    return Ingestion._get_collection()


def _batches() -> Collection:
    return IngestionBatch._get_collection()


def _chunks() -> Collection:
    return IngestionChunk._get_collection()


def _rejections() -> Collection:
    return IngestionRejection._get_collection()


# --- jobs ----------------------------------------------------------------------------


def find(ingestion_id: ObjectId, fields: dict[str, int]) -> dict[str, Any] | None:
    return _jobs().find_one({"_id": ingestion_id}, fields)


def move_status(
    ingestion_id: ObjectId, sources: list[str], target: IngestionStatus, **fields: Any
) -> bool:
    """``sources`` → ``target`` if the job is in one of them; returns whether it moved."""
    result = _jobs().update_one(
        {"_id": ingestion_id, "status": {"$in": sources}},
        {"$set": {"status": str(target), **fields}},
    )
    return result.modified_count == 1


def advance_park_attempts(ingestion_id: ObjectId, attempt: int) -> bool:
    """``attempt`` → ``attempt + 1``; False if another caller advanced it first."""
    advanced = _jobs().update_one(
        {"_id": ingestion_id, "park_attempts": attempt}, {"$set": {"park_attempts": attempt + 1}}
    )
    return advanced.modified_count == 1


# --- batches -------------------------------------------------------------------------


def insert_batch(
    ingestion_id: ObjectId,
    key: str,
    chunk: int | None,
    counts: dict[str, int],
    rejections: list[dict[str, Any]],
    session: ClientSession,
    part: tuple[int, int, int] | None = None,
) -> bool:
    """Write the job's batch ``key``; False if it exists (the batch was applied before).
    ``part``: (start, end, size) when the batch applies only those of its chunk's rows."""
    batch: dict[str, Any] = {"ingestion_id": ingestion_id, "key": key, "chunk": chunk, **counts}
    if part is not None:
        batch |= dict(zip(("start", "end", "size"), part, strict=True))
    batch |= {"rejections": rejections, "created_at": utcnow()}
    try:
        _batches().insert_one(batch, session=session)
    except DuplicateKeyError:
        return False
    return True


def add_to_batch(ingestion_id: ObjectId, key: str, session: ClientSession, **counts: int) -> None:
    _batches().update_one(
        {"ingestion_id": ingestion_id, "key": key}, {"$inc": counts}, session=session
    )


def count_applied_chunks(ingestion_id: ObjectId) -> int:
    return len(applied_chunks(ingestion_id))


def applied_chunks(ingestion_id: ObjectId) -> list[int]:
    """The chunks whose rows are all applied: in one batch, or in parts adding up to them."""
    found = _batches().find(
        {"ingestion_id": ingestion_id, "chunk": {"$ne": None}},
        {"chunk": 1, "start": 1, "end": 1, "size": 1},
    )
    rows: dict[int, int] = {}
    sizes: dict[int, int] = {}
    for batch in found:
        if batch.get("size") is None:  # the whole chunk
            rows[batch["chunk"]] = sizes[batch["chunk"]] = 0
            continue
        rows[batch["chunk"]] = rows.get(batch["chunk"], 0) + batch["end"] - batch["start"]
        sizes[batch["chunk"]] = batch["size"]
    return sorted(number for number, size in sizes.items() if rows[number] == size)


def applied_parts(ingestion_id: ObjectId, chunk: int) -> list[tuple[int, int]]:
    """The ``(start, end)`` rows of the chunk's batches (the whole chunk, or its parts)."""
    found = _batches().find({"ingestion_id": ingestion_id, "chunk": chunk}, {"start": 1, "end": 1})
    return [(batch.get("start", 0), batch.get("end", MAX_ROWS)) for batch in found]


def batch_sums(ingestion_id: ObjectId) -> dict[str, int]:
    """The batches' counts added up, and how many of them were chunks of the upload."""
    group: dict[str, Any] = {name: {"$sum": f"${name}"} for name in BATCH_COUNTS}
    pipeline = [{"$match": {"ingestion_id": ingestion_id}}, {"$group": {"_id": None, **group}}]
    found: dict[str, Any] = next(_batches().aggregate(pipeline), {})
    sums = {name: found.get(name, 0) for name in BATCH_COUNTS}
    return {**sums, "chunks_done": count_applied_chunks(ingestion_id)}


def batch_rejections(ingestion_id: ObjectId) -> list[dict[str, Any]]:
    """The rejected rows the job's batches keep, batch after batch."""
    batches = _batches().find(
        {"ingestion_id": ingestion_id, "rejections.0": {"$exists": True}}, {"rejections": 1}
    )
    return [rejection for batch in batches for rejection in batch["rejections"]]


def last_batch_at(ingestion_id: ObjectId) -> datetime | None:
    last = _batches().find_one(
        {"ingestion_id": ingestion_id}, {"created_at": 1}, sort=[("created_at", -1)]
    )
    return last["created_at"] if last else None


# --- rejected rows ---------------------------------------------------------------------


def insert_rejections(ingestion_id: ObjectId, rejections: list[dict[str, Any]]) -> None:
    """Keep rejected rows (``{row, reason, errors}`` each) in one command."""
    _rejections().insert_many([{"ingestion_id": ingestion_id, **r} for r in rejections])


def rejections(ingestion_id: ObjectId) -> Iterator[dict[str, Any]]:
    """The job's kept rejected rows, by row, read through the (ingestion_id, row) index."""
    return _rejections().find(
        {"ingestion_id": ingestion_id}, {"_id": 0, "ingestion_id": 0}, sort=[("row", 1)]
    )


def has_rejections(ingestion_id: ObjectId) -> bool:
    return _rejections().find_one({"ingestion_id": ingestion_id}, {"_id": 1}) is not None


# --- chunks --------------------------------------------------------------------------


def insert_chunks(ingestion_id: ObjectId, numbered: list[tuple[int, list[Any]]]) -> None:
    """Store the job's chunks, ``(number, rows)`` each, in one command."""
    _chunks().insert_many(
        [
            {"ingestion_id": ingestion_id, "number": number, "rows": rows, "queued_at": utcnow()}
            for number, rows in numbered
        ]
    )


def note_message(ingestion_id: ObjectId, number: int, message_id: str) -> None:
    """The queue message that now carries the chunk."""
    chosen = {"ingestion_id": ingestion_id, "number": number}
    _chunks().update_one(chosen, {"$set": {"message_id": message_id, "queued_at": utcnow()}})


def note_messages(ingestion_id: ObjectId, message_ids: dict[int, str]) -> None:
    """``note_message`` for several chunks, in one command."""
    if message_ids:
        _chunks().bulk_write(
            [
                UpdateOne(
                    {"ingestion_id": ingestion_id, "number": number},
                    {"$set": {"message_id": message_id}},
                )
                for number, message_id in message_ids.items()
            ],
            ordered=False,
        )


def chunk_rows(ingestion_id: ObjectId, number: int) -> list[list[Any]] | None:
    """The stored chunk's ``[row, record]`` pairs; None once its job has ended."""
    chunk = _chunks().find_one({"ingestion_id": ingestion_id, "number": number}, {"rows": 1})
    return chunk["rows"] if chunk else None


def delete_chunks(ingestion_id: ObjectId) -> None:
    _chunks().delete_many({"ingestion_id": ingestion_id})


def chunks_queued_before(
    ingestion_id: ObjectId, cutoff: datetime | None, skipping: list[int]
) -> list[dict[str, Any]]:
    """The number and queue message of the job's chunks last queued before ``cutoff``
    (any time, if None), but for ``skipping``."""
    chosen: dict[str, Any] = {"ingestion_id": ingestion_id, "number": {"$nin": skipping}}
    if cutoff is not None:
        chosen["queued_at"] = {"$lt": cutoff}
    return list(_chunks().find(chosen, {"number": 1, "message_id": 1, "_id": 0}))


def count_chunks(ingestion_id: ObjectId) -> int:
    return _chunks().count_documents({"ingestion_id": ingestion_id})
