"""Each past day's orders and revenue, kept so that the dashboard reads a document per day
instead of every order of its 90 days.

Every write of orders dated on a past day of the dashboard's leaves a mark for that day
in the orders' own transaction (``mark``): an insert, so concurrent imports never
conflict on it, and none if the orders are refused. A day's kept totals are trusted while
it has no mark. A count reads the day's marks first, so it sees the orders of every mark
it read, and removes those marks once its totals are kept; a mark committed meanwhile
stays, and the day is counted again. Of two counts of a day, the one begun later keeps
its totals. Totals are kept only for days that ended ``SETTLE`` before the count began:
orders of a day that was today when their transaction began leave no mark.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bson import Decimal128, ObjectId
from pymongo import UpdateOne
from pymongo.client_session import ClientSession
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError

from crm.clock import utcnow
from crm.documents import OrderDayMark, OrderDayTotals
from crm.documents.order import KEPT_DAYS
from crm.store.bulk import DUPLICATE_KEY

# Longer than an order transaction takes to commit.
SETTLE = timedelta(minutes=5)
DAY = timedelta(days=1)


def _totals() -> Collection:
    return OrderDayTotals._get_collection()


def _marks() -> Collection:
    return OrderDayMark._get_collection()


def mark(order_dates: Iterable[datetime], session: ClientSession) -> None:
    """In the transaction writing orders dated ``order_dates``: their kept days are stale."""
    now = utcnow()
    today = _midnight(now)
    first = today - timedelta(days=KEPT_DAYS)
    days = sorted({_midnight(day) for day in order_dates if first <= day < today})
    if days:
        _marks().insert_many([{"day": day, "at": now} for day in days], session=session)


def read(days: list[datetime]) -> tuple[dict[datetime, dict[str, Any]], dict[datetime, list]]:
    """The days' kept totals, and their marks' ids, by day."""
    totals = {entry["_id"]: entry for entry in _totals().find({"_id": {"$in": days}})}
    marks: dict[datetime, list[ObjectId]] = {}
    for found in _marks().find({"day": {"$in": days}}, {"day": 1}):
        marks.setdefault(found["day"], []).append(found["_id"])
    return totals, marks


def keepable(day: datetime, started_at: datetime) -> bool:
    return day + DAY <= started_at - SETTLE


def keep(
    started_at: datetime, counted: dict[datetime, tuple[int, Decimal]], marks: list[ObjectId]
) -> None:
    """Keep days' totals (``counted``: orders and revenue by day), counted by a count begun
    at ``started_at`` after it read the days' ``marks``, except where a count begun later
    kept its own; then drop those marks. One write for the totals, one for the marks."""
    earlier = {"$or": [{"started_at": {"$lt": started_at}}, {"started_at": None}]}
    statements = [
        UpdateOne(
            {"_id": day, **earlier},
            {"$set": {"orders": n, "revenue": Decimal128(revenue), "started_at": started_at}},
            upsert=True,
        )
        for day, (n, revenue) in counted.items()
    ]
    if statements:
        try:
            _totals().bulk_write(statements, ordered=False)
        except BulkWriteError as error:
            # A duplicate key: a count begun later has kept that day already.
            if any(e["code"] != DUPLICATE_KEY for e in error.details["writeErrors"]):
                raise
    if marks:
        _marks().delete_many({"_id": {"$in": marks}})


def _midnight(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)
