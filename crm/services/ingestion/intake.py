"""The API's half of an import: read and validate every record, then publish the valid ones.

Each chunk is stored (``IngestionChunk``) before its queue message, which only names
it, goes out: a queue that loses messages loses no records (see ``sweep``).

Valid records are spooled while the upload is read (in memory, then in temporary files
past a few hundred kilobytes) and published only once it has been read to the end: an
upload refused on the way (broken JSON, not UTF-8, too large) leaves nothing behind, and
the job is created with its final counts and number of chunks.

Before publishing, records are grouped by customer: spooled into partitions by a hash
of ``customer_id``, each partition sorted (stably) in memory, then cut into chunks. So
each customer's rows travel together in file order, and chunks of one import apply to
disjoint customers: an order import moves each customer once per chunk rather than
once per order, and concurrent workers do not contend for a customer. (A customer with
more orders than a chunk holds spans several chunks, which then contend and are retried.)
In a customers upload the grouping also finds a customer_id given again: the first row
is imported and each later one rejected (``duplicate_in_file``), counted as a duplicate.

Every rejected row is spooled too and kept once the job exists (``IngestionRejection``),
for the download of them all; the job lists the first ones.
"""

import itertools
import json
import logging
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import IO, Any

import marshmallow as ma
from bson import ObjectId

from crm.documents import Ingestion, IngestionStatus
from crm.services import once
from crm.services.ingestion import jobs
from crm.services.ingestion.formats import RowError, Upload
from crm.services.ingestion.kinds import Kind
from crm.store import ingestions

log = logging.getLogger(__name__)

PARTITIONS = 32
PARTITION_IN_MEMORY = 256 * 1024
CHUNKS_IN_MEMORY = 4 * 1024 * 1024
CHUNKS_PER_INSERT = 4
REJECTIONS_PER_INSERT = 1000
GROUP_BY = "customer_id"

# repeated(first, later): two [row, record] pairs of an upload with the same key
Repeated = Callable[[list[Any], list[Any]], None]


def receive(
    kind: Kind,
    upload: Upload,
    publish: jobs.Publish,
    chunk_size: int,
    filename: str | None = None,
    *,
    chunk_bytes: int,
    job_id: ObjectId | None = None,
) -> Ingestion:
    """Read ``upload`` to the end, create its job and publish its valid records in chunks
    of at most ``chunk_size`` records and (unless one record is larger) ``chunk_bytes``
    bytes of encoded records.

    With ``job_id`` (the id its form was given), the job is created once: an upload under
    an id that has its job already publishes nothing and returns that job."""
    received = 0
    tally = jobs.Tally()
    with ExitStack() as files:
        partitions = [_spool(files, PARTITION_IN_MEMORY) for _ in range(PARTITIONS)]
        rejected = _spool(files, PARTITION_IN_MEMORY)
        for row, record in upload.records(kind):
            received += 1
            try:
                data = _load(kind, record)
            except ma.ValidationError as error:
                rejected.write(_line(tally.reject(row, error.normalized_messages(), record)))
                continue
            partition = zlib.crc32(data[GROUP_BY].encode()) % PARTITIONS
            partitions[partition].write(_line([row, kind.to_message(data)]))

        def reject_repeat(first: list[Any], later: list[Any]) -> None:
            errors = repeated_key(GROUP_BY, later[1][GROUP_BY], first[0])
            rejection = tally.reject(later[0], errors, later[1], jobs.DUPLICATE_IN_FILE)
            rejected.write(_line(rejection))
            tally.duplicates += 1

        chunks = _spool(files, CHUNKS_IN_MEMORY)
        count = 0
        # A customers upload names each customer once; an orders upload, many times.
        repeated = reject_repeat if kind.key == GROUP_BY else None
        for chunk in _chunks(partitions, chunk_size, chunk_bytes, repeated):
            chunks.write(_line(chunk))
            count += 1
        job, created = once.insert(
            Ingestion(
                id=job_id or ObjectId(),
                kind=kind.name,
                format=upload.format,
                filename=filename[:255] if filename else None,
                received=received,
                valid=received - tally.rejected,
                rejected=tally.rejected,
                duplicates=tally.duplicates,
                rejections=sorted(tally.rejections, key=lambda rejection: rejection["row"]),
                chunks=count,
            )
        )
        if not created:
            return job
        chunks.seek(0)
        rejected.seek(0)
        try:
            while kept := [
                json.loads(line) for line in itertools.islice(rejected, REJECTIONS_PER_INSERT)
            ]:
                ingestions.insert_rejections(job.id, kept)
            numbered = enumerate(chunks)
            while stored := [
                (number, json.loads(line))
                for number, line in itertools.islice(numbered, CHUNKS_PER_INSERT)
            ]:
                ingestions.insert_chunks(job.id, stored)
                published = {number: publish(str(job.id), number) for number, _ in stored}
                ingestions.note_messages(job.id, published)
        except Exception as error:
            log.error("ingestion_id=%s could not be queued: %s", job.id, error)
            jobs.fail(
                job.id, f"The upload could not be queued ({type(error).__name__}); upload again."
            )
            jobs.drop_chunks(job.id)
            raise
    if job.chunks == 0:
        jobs.move(job.id, IngestionStatus.DONE, finished_at=job.created_at)
    log.info(
        "ingestion_id=%s %s: %d received, %d valid, %d chunks",
        job.id,
        kind.name,
        received,
        job.valid,
        job.chunks,
    )
    return jobs.get(job.id)


def repeated_key(name: str, key: str, first_row: int) -> dict[str, list[str]]:
    """Why a row giving ``key`` again is rejected."""
    return {name: [f"{name} {key} is on row {first_row} already; only that row is imported."]}


def _load(kind: Kind, record: dict[str, Any] | RowError) -> dict[str, Any]:
    """The record as the schema loads it; ValidationError says why it is rejected."""
    if isinstance(record, RowError):
        raise ma.ValidationError(record.errors)
    return kind.schema.load(record)


def _spool(files: ExitStack, in_memory: int) -> IO[bytes]:
    return files.enter_context(tempfile.SpooledTemporaryFile(in_memory))


def _line(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode() + b"\n"


def _chunks(
    partitions: list[IO[bytes]], size: int, budget: int, repeated: Repeated | None = None
) -> Iterator[list[list[Any]]]:
    """``[row, record]`` pairs, partition by partition, grouped by customer, at most
    ``size`` and ``budget`` bytes (as JSON) at a time; a customer's rows are cut only where
    they pass either bound on their own. With ``repeated``, a customer's first row alone
    is kept and each later one is handed to it instead."""
    chunk: list[list[Any]] = []
    used = 0
    for partition in partitions:
        partition.seek(0)
        rows = [(len(line), json.loads(line)) for line in partition]
        rows.sort(key=lambda sized: sized[1][1][GROUP_BY])
        for _, group in itertools.groupby(rows, key=lambda sized: sized[1][1][GROUP_BY]):
            customer_rows = list(group)
            if repeated is not None:
                for _, later in customer_rows[1:]:
                    repeated(customer_rows[0][1], later)
                customer_rows = customer_rows[:1]
            weight = sum(length for length, _ in customer_rows)
            if chunk and (len(chunk) + len(customer_rows) > size or used + weight > budget):
                yield chunk
                chunk, used = [], 0
            for length, row in customer_rows:
                if chunk and used + length > budget:
                    yield chunk
                    chunk, used = [], 0
                chunk.append(row)
                used += length
                if len(chunk) == size:
                    yield chunk
                    chunk, used = [], 0
    if chunk:
        yield chunk
