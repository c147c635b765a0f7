"""The catalogue of custom attribute keys: each key customers were written with, and the
types of its values, kept as customers are written so that listing it reads a few
documents instead of every customer.

Every customer write calls ``record`` before it writes (the single post and each bulk
import chunk), outside the write's transaction: a key is in the catalogue once some
write carried it, even if that write then failed — a catalogue of keys seen, never one
missing a key a customer has. A key no customer carries any more stays until
``rebuild(restart=True)``, which also fills the catalogue of a database written before
it existed.
"""

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from bson import Decimal128, ObjectId
from pymongo import UpdateOne
from pymongo.errors import BulkWriteError

from crm import db
from crm.documents import AttributeKey, Customer
from crm.services.segments.fields import ISO_DATE

MAX_LISTED = 500
REBUILDS = "rebuilds"  # one document per rebuild in progress: where it has got to
REBUILD_ID = "attribute_keys"
_ISO_DATE = re.compile(ISO_DATE)


def type_of(value: Any) -> str | None:
    """A value's type as audience rules compare it; ISO-dated text is a date."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float | Decimal128):
        return "number"
    if isinstance(value, str):
        return "date" if _ISO_DATE.match(value) else "string"
    return None


def record(customers: Iterable[Mapping[str, Any]]) -> None:
    """Add the attribute keys and value types of ``customers`` (documents or validated
    input) to the catalogue: one unordered write of one upsert per key."""
    found: dict[str, set[str]] = {}
    for customer in customers:
        for key, value in (customer.get("attributes") or {}).items():
            kind = type_of(value)
            if kind is not None:
                found.setdefault(key, set()).add(kind)
    if not found:
        return
    updates = [
        UpdateOne({"_id": key}, {"$addToSet": {"types": {"$each": sorted(kinds)}}}, upsert=True)
        for key, kinds in sorted(found.items())
    ]
    catalogue = AttributeKey._get_collection()
    try:
        catalogue.bulk_write(updates, ordered=False)
    except BulkWriteError:
        # Two first writes of a key raced to insert it; the loser's retry updates it.
        catalogue.bulk_write(updates, ordered=False)


def listing() -> list[dict[str, Any]]:
    """The catalogue by key, as ``GET /api/audiences/fields`` shows it."""
    found = AttributeKey._get_collection().find(
        {}, sort=[("_id", 1)], limit=MAX_LISTED, max_time_ms=db.query_timeout_ms()
    )
    return [{"field": f"attributes.{row['_id']}", "types": sorted(row["types"])} for row in found]


def rebuild(
    batch_size: int = 1000,
    restart: bool = False,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Record every customer's attributes, in ``_id`` order, saving the position after each
    batch so that an interrupted rebuild carries on where it stopped. A new one (none
    saved, or ``restart``) empties the catalogue first, dropping keys no customer has.
    Returns the customers read by this run."""
    rebuilds = AttributeKey._get_collection().database[REBUILDS]
    saved = None if restart else rebuilds.find_one({"_id": REBUILD_ID})
    after: ObjectId | None = saved["after"] if saved else None
    if saved is None:
        AttributeKey._get_collection().delete_many({})
        rebuilds.replace_one({"_id": REBUILD_ID}, {"after": None}, upsert=True)
    customers, read = Customer._get_collection(), 0
    while True:
        query = {"_id": {"$gt": after}} if after is not None else {}
        batch = list(customers.find(query, {"attributes": 1}, sort=[("_id", 1)], limit=batch_size))
        if not batch:
            break
        record(batch)
        after, read = batch[-1]["_id"], read + len(batch)
        rebuilds.update_one({"_id": REBUILD_ID}, {"$set": {"after": after}})
        if progress:
            progress(read)
    rebuilds.delete_one({"_id": REBUILD_ID})
    return read
