"""An ingestion job: moved through its status table by conditional updates, counted by
summing its batches, each batch written in the transaction that applied it."""

import heapq
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from bson import ObjectId
from pymongo.client_session import ClientSession

from crm.clock import utcnow
from crm.documents import Ingestion, IngestionStatus
from crm.documents.ingestion import INGESTION_TRANSITIONS
from crm.documents.status import sources_of
from crm.services.errors import InvalidTransition, NotFound
from crm.store import ingestions
from crm.store.ingestions import BATCH_COUNTS

# publish(ingestion_id, chunk_number) -> the id of the queue message that carries it
Publish = Callable[[str, int], str]

# Rejected rows kept with their reasons, per job and per batch; the rest are counted.
KEPT_REJECTIONS = 100
# Why a row is rejected: its fields (see its errors), or its key given on an earlier row.
INVALID = "invalid"
DUPLICATE_IN_FILE = "duplicate_in_file"
MAX_VALUE = 200
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# The download of rejected rows: a line per problem of each.
REJECTION_COLUMNS = ("row", "reason", "field", "value", "message")


class AlreadyApplied(Exception):
    """The batch's key is taken: a redelivered chunk, already applied."""


@dataclass(frozen=True)
class Part:
    """Rows ``start`` to ``end`` (excluded) of chunk ``number``, of ``size`` rows in all,
    applied as one batch: the whole chunk, or a part of it when a transaction could not
    apply the whole in time."""

    number: int
    start: int
    end: int
    size: int

    @classmethod
    def whole(cls, number: int, size: int) -> "Part":
        return cls(number, 0, size, size)

    @property
    def is_whole(self) -> bool:
        return self.start == 0 and self.end == self.size

    @property
    def key(self) -> str:
        if self.is_whole:
            return f"chunk:{self.number}"
        return f"chunk:{self.number}:rows:{self.start}-{self.end}"

    @classmethod
    def rest(cls, number: int, size: int, applied: list[tuple[int, int]]) -> list["Part"]:
        """The parts of chunk ``number`` between the ``(start, end)`` parts ``applied``."""
        rest, start = [], 0
        for applied_start, applied_end in sorted(applied):
            if start < applied_start:
                rest.append(cls(number, start, applied_start, size))
            start = max(start, applied_end)
        if start < size:
            rest.append(cls(number, start, size, size))
        return rest

    def halves(self) -> tuple["Part", "Part"]:
        middle = (self.start + self.end) // 2
        return replace(self, end=middle), replace(self, start=middle)

    def of(self, rows: list[Any]) -> list[Any]:
        return rows[self.start : self.end]


@dataclass
class Tally:
    """What applying one batch did."""

    inserted: int = 0
    updated: int = 0
    duplicates: int = 0
    rejected: int = 0
    parked: int = 0
    rejections: list[dict[str, Any]] = field(default_factory=list)

    def reject(
        self, row: int, errors: dict[str, Any], given: Any = None, reason: str = INVALID
    ) -> dict[str, Any]:
        """Count a rejected row; keep the first ones with their reasons and the values
        ``given`` (the row as read) had at each field named. Returns the rejection."""
        self.rejected += 1
        flat = _flatten(errors)
        for error in flat:
            value = _value_at(given, error["field"])
            if value is not None:
                error["value"] = value
        rejection = {"row": row, "reason": reason, "errors": flat}
        if len(self.rejections) < KEPT_REJECTIONS:
            self.rejections.append(rejection)
        return rejection


def _flatten(messages: Any, path: str = "") -> list[dict[str, str]]:
    """``{"attributes": {"x": ["Bad."]}}`` as ``[{"field": "attributes.x", "message": "Bad."}]``:
    field names from the upload stay values, never keys of a stored document."""
    if isinstance(messages, dict):
        return [
            error
            for key, value in messages.items()
            for error in _flatten(value, f"{path}.{key}" if path else str(key))
        ]
    if isinstance(messages, list):
        return [error for message in messages for error in _flatten(message, path)]
    return [{"field": path[:200], "message": str(messages)[:500]}]


def _value_at(given: Any, path: str) -> str | None:
    """The value at ``path`` (``attributes.tier``) of a row as read, as text; None if the
    row has none there."""
    for name in path.split("."):
        if not isinstance(given, dict) or name not in given:
            return None
        given = given[name]
    text = given if isinstance(given, str) else json.dumps(given, default=str)
    # Stored and shown as given, but for what no UTF-8 can hold (a lone surrogate) and
    # control characters, which are shown as their escapes.
    text = text[:MAX_VALUE].encode("utf-8", "replace").decode("utf-8")
    return CONTROL.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def find(ingestion_id: ObjectId) -> Ingestion | None:
    return Ingestion.objects(id=ingestion_id).first()


def get(ingestion_id: ObjectId) -> Ingestion:
    job = find(ingestion_id)
    if job is None:
        raise NotFound(f"No ingestion with id {ingestion_id}.")
    return job


def move(ingestion_id: ObjectId, target: IngestionStatus, **fields: Any) -> bool:
    """Move to ``target`` if the table allows it from where the job is; returns whether it moved."""
    sources = sources_of(INGESTION_TRANSITIONS, target)
    return ingestions.move_status(ingestion_id, sources, target, **fields)


def fail(ingestion_id: ObjectId, error: str) -> None:
    """FAILED, its chunks kept for ``resume``."""
    move(ingestion_id, IngestionStatus.FAILED, error=error, finished_at=utcnow())


def resume(ingestion_id: ObjectId, publish: Publish) -> Ingestion:
    """A FAILED job RUNNING again, each of its chunks not yet applied queued again (an
    applied one is not applied twice: its batch's key is taken)."""
    job = get(ingestion_id)
    if job.status != IngestionStatus.FAILED:
        raise InvalidTransition(f"Only a FAILED import can be resumed; this one is {job.status}.")
    applied = ingestions.applied_chunks(ingestion_id)
    waiting = ingestions.chunks_queued_before(ingestion_id, None, skipping=applied)
    if len(applied) + len(waiting) < job.chunks:
        raise InvalidTransition(
            "This import's upload was never queued whole, so it cannot be resumed; upload it again."
        )
    if not move(ingestion_id, IngestionStatus.RUNNING, error=None, finished_at=None):
        raise InvalidTransition("The import was resumed already.")
    numbers = [chunk["number"] for chunk in waiting]
    ingestions.note_messages(
        ingestion_id, {number: publish(str(ingestion_id), number) for number in numbers}
    )
    if not numbers:
        complete_if_done(ingestion_id, job.chunks)
    return get(ingestion_id)


def drop_chunks(ingestion_id: ObjectId) -> None:
    """The job's stored chunks, no longer needed once it is DONE or FAILED."""
    ingestions.delete_chunks(ingestion_id)


def begin_chunk(ingestion_id: ObjectId) -> dict[str, Any] | None:
    """The job a chunk belongs to, now RUNNING; None if it is gone or FAILED (drop the chunk)."""
    job = ingestions.find(ingestion_id, {"kind": 1, "status": 1, "chunks": 1})
    if job is None or job["status"] == IngestionStatus.FAILED:
        return None
    if job["status"] == IngestionStatus.QUEUED:
        move(ingestion_id, IngestionStatus.RUNNING, started_at=utcnow())
    return job


def complete_if_done(ingestion_id: ObjectId, chunks: int) -> bool:
    """DONE once every one of the job's ``chunks`` has its batch; returns whether it is DONE
    (now, or already: a redelivered last chunk must see it too)."""
    if ingestions.count_applied_chunks(ingestion_id) < chunks:
        return False
    return move(ingestion_id, IngestionStatus.DONE, finished_at=utcnow()) or (
        get(ingestion_id).status == IngestionStatus.DONE
    )


def record_batch(
    session: ClientSession, ingestion_id: ObjectId, key: str, chunk: int | None, tally: Tally
) -> None:
    """Write the batch inside the transaction applying it; raises AlreadyApplied if it was."""
    counts = {name: getattr(tally, name) for name in BATCH_COUNTS}
    if not ingestions.insert_batch(ingestion_id, key, chunk, counts, tally.rejections, session):
        raise AlreadyApplied(key)


def record_part(session: ClientSession, ingestion_id: ObjectId, part: Part, tally: Tally) -> None:
    """``record_batch`` for a part of the upload's chunk (or all of it)."""
    counts = {name: getattr(tally, name) for name in BATCH_COUNTS}
    rows = None if part.is_whole else (part.start, part.end, part.size)
    if not ingestions.insert_batch(
        ingestion_id, part.key, part.number, counts, tally.rejections, session, rows
    ):
        raise AlreadyApplied(part.key)


def report(job: Ingestion) -> dict[str, Any]:
    """The job as the API shows it: status, counts, progress and the first rejected rows."""
    done = ingestions.batch_sums(job.id)
    rejections = list(job.rejections) + ingestions.batch_rejections(job.id)
    rejections.sort(key=lambda rejection: rejection["row"])
    counts = {
        "received": job.received,
        "valid": job.valid - done["rejected"],
        "rejected": job.rejected + done["rejected"],
        "inserted": done["inserted"],
        "updated": done["updated"],
        "duplicates": job.duplicates + done["duplicates"],
        "parked": done["parked"],
    }
    chunks = job.chunks
    return {
        "id": job.id,
        "kind": job.kind,
        "format": job.format,
        "filename": job.filename,
        "status": job.status,
        "counts": counts,
        "progress": {
            "chunks": chunks,
            "chunks_done": done["chunks_done"],
            "percent": round(100 * done["chunks_done"] / chunks, 1) if chunks else 100.0,
        },
        "rejections": rejections[:KEPT_REJECTIONS],
        "error": job.error,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


def rejected_rows(job: Ingestion) -> Iterator[dict[str, Any]]:
    """Every row the job rejected, by row: all those its upload's reading rejected, and
    those its batches keep (the first ``KEPT_REJECTIONS`` of each)."""
    read = ingestions.rejections(job.id)
    if job.rejected and not ingestions.has_rejections(job.id):
        read = iter(job.rejections)  # a job from before every rejected row was kept
    applied = sorted(ingestions.batch_rejections(job.id), key=lambda rejection: rejection["row"])
    return heapq.merge(read, applied, key=lambda rejection: rejection["row"])


def rejection_lines(job: Ingestion) -> Iterator[list[Any]]:
    """A line per problem of each rejected row, in ``REJECTION_COLUMNS``."""
    for rejection in rejected_rows(job):
        for error in rejection["errors"]:
            reason = rejection.get("reason", INVALID)
            yield [
                rejection["row"],
                reason,
                error["field"],
                error.get("value", ""),
                error["message"],
            ]
