"""Bulk imports: the job, the batches whose sums are its counts, and parked orders.

A job's counts are never incremented in place. Each batch a worker applies (a chunk
of the upload, or parked orders settled later) writes one ``IngestionBatch`` in the
same transaction as its records, under a unique key; a redelivered chunk finds its
key taken and changes nothing, and concurrent chunks never contend for one document.
"""

from enum import StrEnum

from mongoengine import (
    DateTimeField,
    Decimal128Field,
    DictField,
    Document,
    EnumField,
    IntField,
    ListField,
    ObjectIdField,
    StringField,
)

from crm.clock import utcnow

# The formats an upload may have.
FORMATS = ("csv", "json", "ndjson")


class IngestionStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"


# An upload without a valid row has nothing to run, so QUEUED may go straight to DONE; a
# FAILED job that is resumed runs again.
INGESTION_TRANSITIONS: dict[IngestionStatus, frozenset[IngestionStatus]] = {
    IngestionStatus.QUEUED: frozenset(
        {IngestionStatus.RUNNING, IngestionStatus.DONE, IngestionStatus.FAILED}
    ),
    IngestionStatus.RUNNING: frozenset({IngestionStatus.DONE, IngestionStatus.FAILED}),
    IngestionStatus.DONE: frozenset(),
    IngestionStatus.FAILED: frozenset({IngestionStatus.RUNNING}),
}


class Ingestion(Document):
    kind = StringField(required=True, choices=("customers", "orders"))
    format = StringField(required=True, choices=FORMATS)
    filename = StringField(max_length=255)
    status = EnumField(IngestionStatus, default=IngestionStatus.QUEUED)
    # What the API found reading the upload; the workers' part is in the batches.
    received = IntField(default=0)
    valid = IntField(default=0)
    rejected = IntField(default=0)
    # Rows whose key (customer_id) an earlier row of the upload had: rejected too.
    duplicates = IntField(default=0)
    rejections = ListField(DictField())
    chunks = IntField(default=0)
    error = StringField()
    # Retries of parked orders scheduled so far; advanced conditionally, so one chain runs.
    park_attempts = IntField(default=0)
    created_at = DateTimeField(default=utcnow)
    started_at = DateTimeField()
    finished_at = DateTimeField()

    meta = {"collection": "ingestions", "indexes": ["-created_at"]}


class IngestionBatch(Document):
    ingestion_id = ObjectIdField(required=True)
    # "chunk:<n>" for the upload's chunks, "chunk:<n>:rows:<a>-<b>" for a part of one
    # applied on its own (its transaction could not apply the whole in time), "settle:<id>"
    # for parked orders settled later.
    key = StringField(required=True)
    chunk = IntField()
    # A part's rows, ``start`` to ``end`` (excluded) of its chunk's ``size``; unset for a
    # whole chunk.
    start = IntField()
    end = IntField()
    size = IntField()
    inserted = IntField(default=0)
    updated = IntField(default=0)
    duplicates = IntField(default=0)
    rejected = IntField(default=0)
    # Orders parked (positive) or settled out of parking (negative) by this batch.
    parked = IntField(default=0)
    rejections = ListField(DictField())
    created_at = DateTimeField(default=utcnow)

    meta = {
        "collection": "ingestion_batches",
        "indexes": [{"fields": ["ingestion_id", "key"], "unique": True}],
    }


class IngestionRejection(Document):
    """A row the upload's reading rejected, kept as long as its job for the download of
    every rejected row (the job itself lists the first ones)."""

    ingestion_id = ObjectIdField(required=True)
    row = IntField(required=True)
    reason = StringField(required=True)
    errors = ListField(DictField())

    meta = {
        "collection": "ingestion_rejections",
        "indexes": [{"fields": ["ingestion_id", "row"]}],
    }


class IngestionChunk(Document):
    """A chunk of an upload's valid records, ``[[row, record], ...]``, kept until its job
    ends: the queue message only names it, so a message the queue lost is sent again."""

    ingestion_id = ObjectIdField(required=True)
    number = IntField(required=True)
    rows = ListField(required=True)
    queued_at = DateTimeField(default=utcnow)
    # The queue message that carries it (the latest one: each retry is a new message).
    message_id = StringField()

    meta = {
        "collection": "ingestion_chunks",
        "indexes": [{"fields": ["ingestion_id", "number"], "unique": True}],
    }


class ParkedOrder(Document):
    """A valid order whose customer was unknown when its chunk was applied."""

    order_id = StringField(required=True, unique=True, max_length=64)
    customer_id = StringField(required=True, max_length=64)
    order_amount = Decimal128Field(required=True, precision=2)
    order_date = DateTimeField(required=True)
    ingestion_id = ObjectIdField(required=True)
    row = IntField(required=True)
    parked_at = DateTimeField(default=utcnow)

    meta = {"collection": "parked_orders", "indexes": ["customer_id", "ingestion_id"]}
