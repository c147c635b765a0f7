"""Each past day's orders and revenue, kept so that the dashboard reads a document per day
instead of every order of its 90 days.

A day's totals are trusted only while no order of that day was written since they were
counted: every write of orders dated before today first moves their days' ``changes``
(``touch``), and totals are kept with the ``changes`` read before counting, only if it
has not moved (``keep``). Orders are written in a transaction that may commit a little
after its touch, so totals are kept only for days whose last touch, and whose end, are
``SETTLE`` in the past: a count started then sees every order of the day. Today is
always counted.
"""

from collections.abc import Iterable
from contextlib import suppress
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bson import Decimal128
from pymongo import UpdateOne
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from crm.clock import utcnow
from crm.documents import Order

COLLECTION = "order_day_totals"
# Longer than an order transaction, with its retries, takes to commit after its touch.
SETTLE = timedelta(minutes=5)
DAY = timedelta(days=1)


def _totals() -> Collection:
    return Order._get_collection().database[COLLECTION]


def touch(order_dates: Iterable[datetime]) -> None:
    """Before orders dated ``order_dates`` are written: their past days' totals are stale."""
    now = utcnow()
    today = _midnight(now)
    days = sorted({_midnight(day) for day in order_dates if day < today})
    statements = [
        UpdateOne({"_id": day}, {"$inc": {"changes": 1}, "$set": {"touched_at": now}}, upsert=True)
        for day in days
    ]
    if statements:
        _totals().bulk_write(statements, ordered=False)


def read(days: list[datetime]) -> dict[datetime, dict[str, Any]]:
    """The days' documents, by day: ``changes`` (0 if never touched) and, if counted,
    ``orders``, ``revenue`` and ``counted_changes``."""
    found = _totals().find({"_id": {"$in": days}})
    return {entry["_id"]: entry for entry in found}


def trusted(entry: dict[str, Any] | None) -> bool:
    return entry is not None and entry.get("counted_changes") == entry.get("changes", 0)


def keepable(day: datetime, entry: dict[str, Any] | None, counted_at: datetime) -> bool:
    """Whether a count of ``day`` started at ``counted_at`` saw every order of the day."""
    settled = counted_at - SETTLE
    touched_at = (entry or {}).get("touched_at")
    return day + DAY <= settled and (touched_at is None or touched_at <= settled)


def keep(day: datetime, changes: int, orders: int, revenue: Decimal) -> None:
    """Keep a day's totals counted after its ``changes`` was read, unless it moved since."""
    totals = {"orders": orders, "revenue": Decimal128(revenue), "counted_changes": changes}
    # A duplicate key: an order of that day was written meanwhile; the next count keeps it.
    with suppress(DuplicateKeyError):
        _totals().update_one({"_id": day, "changes": changes}, {"$set": totals}, upsert=True)


def _midnight(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)
