"""A chunk of customers in one transaction: new ones inserted whole, known ones given the
fields the upload carries (as ``POST /api/customers`` would), the chunk's batch beside them.

The fast path is one unordered ``insert_many``. Customers that already exist make it
fail; they are looked up once and the chunk is applied again, inserting the new and
updating, with one unordered ``bulk_write``, the known ones the row would change (read
in the same transaction); the others count as duplicates.
"""

from dataclasses import dataclass, field
from typing import Any

import bson
from bson import ObjectId
from pymongo import UpdateOne
from pymongo.client_session import ClientSession

from crm.clock import utcnow
from crm.documents import Customer
from crm.services import attribute_keys
from crm.services.customers import DEFAULTS
from crm.services.ingestion import jobs
from crm.services.ingestion.kinds import CUSTOMERS
from crm.store import bulk, ingestions, transaction

MAX_ATTEMPTS = 4


def apply_part(
    ingestion_id: ObjectId, part: jobs.Part, rows: list[list[Any]], time_budget: float | None
) -> list[str] | None:
    """Apply the part of a chunk whose ``[row, customer]`` pairs are ``rows``; returns the
    customer_ids it created, or None if it was applied before. ``time_budget``: see
    ``transaction.run``."""
    attempt = _Attempt(ingestion_id, part, *_merge(rows))
    attribute_keys.record(attempt.records.values())
    for _ in range(MAX_ATTEMPTS):
        try:
            return transaction.run(attempt, time_budget, transaction.IMPORTS)
        except bulk.KeysTaken:
            attempt.known = existing(list(attempt.records))
        except jobs.AlreadyApplied:
            return None
    raise transaction.KeptChanging(f"{part.key}: its customers kept changing; retry it later")


def _merge(rows: list[list[Any]]) -> tuple[jobs.Tally, dict[str, dict[str, Any]]]:
    """One record per customer_id, later rows' fields over earlier ones', as repeated
    posts would leave it; a repeat is counted here, as an update or a duplicate."""
    tally = jobs.Tally()
    records: dict[str, dict[str, Any]] = {}
    for _row, message in rows:
        fields = CUSTOMERS.to_document(message)
        merged = records.get(fields["customer_id"])
        if merged is None:
            records[fields["customer_id"]] = fields
            continue
        if all(merged.get(name) == value for name, value in fields.items()):
            tally.duplicates += 1
        else:
            tally.updated += 1
        merged.update(fields)
    return tally, records


@dataclass
class _Attempt:
    """The chunk's transaction, given which of its customers are known to exist."""

    ingestion_id: ObjectId
    part: jobs.Part
    base: jobs.Tally
    records: dict[str, dict[str, Any]]
    known: set[str] = field(default_factory=set)

    def __call__(self, session: ClientSession) -> list[str]:
        now = utcnow()
        new = [fields for cid, fields in self.records.items() if cid not in self.known]
        updating = [fields for cid, fields in self.records.items() if cid in self.known]
        tally = jobs.Tally(
            updated=self.base.updated, duplicates=self.base.duplicates, inserted=len(new)
        )
        key = self.part.key
        jobs.record_part(session, self.ingestion_id, self.part, tally)
        customers = Customer._get_collection()
        bulk.insert_new(customers, [_document(fields, now) for fields in new], session)
        if updating:
            changed = _changed(updating, session)
            if changed:
                updates = [_update(fields, now) for fields in changed]
                customers.bulk_write(updates, ordered=False, session=session)
            ingestions.add_to_batch(
                self.ingestion_id,
                key,
                session,
                updated=len(changed),
                duplicates=len(updating) - len(changed),
            )
        return [fields["customer_id"] for fields in new]


def _document(fields: dict[str, Any], now) -> dict[str, Any]:
    defaults = {name: value for name, value in DEFAULTS.items() if name not in fields}
    return {**defaults, **fields, "created_at": now, "updated_at": now}


def _changed(updating: list[dict[str, Any]], session: ClientSession) -> list[dict[str, Any]]:
    """Those of ``updating`` that would change their stored customer: read by the
    ``customer_id`` index in the chunk's transaction, so each update's filter is the key
    alone (one beside an ``$or`` of fields would scan every customer on servers that
    cannot combine the two)."""
    names = {name for fields in updating for name in fields}
    stored = {
        customer["customer_id"]: customer
        for customer in Customer._get_collection().find(
            {"customer_id": {"$in": [fields["customer_id"] for fields in updating]}},
            {name: 1 for name in names},
            session=session,
        )
    }
    return [
        fields
        for fields in updating
        if fields["customer_id"] in stored
        and any(
            not _same(stored[fields["customer_id"]], name, value) for name, value in fields.items()
        )
    ]


def _same(stored: dict[str, Any], name: str, value: Any) -> bool:
    """As MongoDB's ``$eq`` compares a stored field with a given value: by their BSON."""
    if name not in stored:
        return value is None
    return bson.encode({"v": stored[name]}) == bson.encode({"v": value})


def _update(fields: dict[str, Any], now) -> UpdateOne:
    given = {name: value for name, value in fields.items() if name != "customer_id"}
    return UpdateOne({"customer_id": fields["customer_id"]}, {"$set": {**given, "updated_at": now}})


def existing(customer_ids: list[str]) -> set[str]:
    """Which of ``customer_ids`` are customers."""
    found = Customer._get_collection().find(
        {"customer_id": {"$in": customer_ids}}, {"customer_id": 1, "_id": 0}
    )
    return {customer["customer_id"] for customer in found}
