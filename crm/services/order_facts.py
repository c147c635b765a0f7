"""The order facts a customer document keeps for audience rules, and their rebuild.

Orders are dated by day (midnight UTC), so one ``{count, amount}`` per order day, under
the day's ``YYYY-MM-DD`` key (which sorts as the days do), answers "orders in the last N
days" exactly: a day is in the window exactly when each of its orders is. Days older
than the longest window a rule may name are dropped as new orders arrive, and orders
dated later than tomorrow are refused (``crm.schemas.order``), so a customer holds at most
one entry per day of that window plus tomorrow, whatever it buys;
``order_count`` and ``order_total`` count all time. Keys make adding a chunk's days to a
customer's linear in both (an array would need a search per new day).
"""

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from bson import Decimal128
from pymongo import UpdateOne
from pymongo.client_session import ClientSession

from crm.documents import Customer, Order
from crm.documents.customer import MAX_WINDOW_DAYS
from crm.store import transaction

DAYS = "order_days"
REBUILDS = "maintenance_runs"
REBUILD_ID = "order-facts"
ZERO = Decimal128("0")


def key(day: datetime) -> str:
    return day.date().isoformat()


def oldest_kept(now: datetime) -> datetime:
    """The oldest order day any window can still reach: a window of N days starts at
    ``now - N days``, no earlier than midnight ``MAX_WINDOW_DAYS`` days before today."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=MAX_WINDOW_DAYS)


def update(placed: list[Mapping[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """The update pipeline adding stored-form orders (of one customer) to its document:
    spend, visits, last visit, and the order facts. Old order days are dropped too."""
    dates = [order["order_date"] for order in placed]
    spend = Decimal128(sum((order["order_amount"].to_decimal() for order in placed), Decimal(0)))
    floor = oldest_kept(now)
    added = {
        f"{DAYS}.{day}": {
            "count": _add(f"{DAYS}.{day}.count", bucket["count"], 0),
            "amount": _add(f"{DAYS}.{day}.amount", bucket["amount"], ZERO),
        }
        for day, bucket in buckets(placed).items()
        if day >= key(floor)
    }
    totals = {
        "total_spends": _add("total_spends", spend, ZERO),
        "visit_count": _add("visit_count", len(placed), 0),
        "order_total": _add("order_total", spend, ZERO),
        "order_count": _add("order_count", len(placed), 0),
        "last_visit_date": {"$max": ["$last_visit_date", max(dates)]},
        "last_order_date": {"$max": ["$last_order_date", max(dates)]},
        "first_order_date": {"$min": ["$first_order_date", min(dates)]},
        DAYS: {"$arrayToObject": _days_from(key(floor))},
        "updated_at": now,
    }
    return [{"$set": totals}, {"$set": added}] if added else [{"$set": totals}]


def buckets(placed: list[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """``{count, amount}`` per order day of ``placed``, by day key."""
    by_day: dict[str, dict[str, Any]] = {}
    for order in placed:
        bucket = by_day.setdefault(key(order["order_date"]), {"count": 0, "amount": Decimal(0)})
        bucket["count"] += 1
        bucket["amount"] += order["order_amount"].to_decimal()
    return {
        day: {**bucket, "amount": Decimal128(bucket["amount"])} for day, bucket in by_day.items()
    }


def _add(path: str, amount: Any, zero: Any) -> dict[str, Any]:
    return {"$add": [{"$ifNull": [f"${path}", zero]}, amount]}


def _days_from(first: str) -> dict[str, Any]:
    """The customer's ``{k: day, v: {count, amount}}`` from day key ``first`` on."""
    days = {"$objectToArray": {"$ifNull": [f"${DAYS}", {}]}}
    return {"$filter": {"input": days, "as": "d", "cond": {"$gte": ["$$d.k", first]}}}


def in_window(cutoff: datetime, name: str) -> dict[str, Any]:
    """The sum of ``name`` (count or amount) over the order days from ``cutoff`` on."""
    first = cutoff.replace(hour=0, minute=0, second=0, microsecond=0)
    if first < cutoff:
        first += timedelta(days=1)
    return {"$sum": {"$map": {"input": _days_from(key(first)), "as": "d", "in": f"$$d.v.{name}"}}}


def rebuild(
    now: datetime,
    batch_size: int = 500,
    restart: bool = False,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Recompute every customer's order facts from ``orders``, in ``_id`` order, saving the
    position after each batch so that an interrupted run carries on where it stopped;
    ``order_history`` (the former shape) is removed. Returns the customers read."""
    runs = Customer._get_collection().database[REBUILDS]
    saved = None if restart else runs.find_one({"_id": REBUILD_ID})
    after = saved["after"] if saved else None
    if saved is None:
        runs.replace_one({"_id": REBUILD_ID}, {"after": None}, upsert=True)
    read = 0
    while batch := _next_batch(after, batch_size):
        transaction.run(partial(_rebuild_batch, batch, now))
        after, read = batch[-1]["_id"], read + len(batch)
        runs.update_one({"_id": REBUILD_ID}, {"$set": {"after": after}})
        if progress:
            progress(read)
    runs.delete_one({"_id": REBUILD_ID})
    return read


def _next_batch(after: Any, size: int) -> list[dict[str, Any]]:
    query = {"_id": {"$gt": after}} if after is not None else {}
    found = Customer._get_collection().find(query, {"customer_id": 1}, sort=[("_id", 1)])
    return list(found.limit(size))


def _rebuild_batch(batch: list[dict[str, Any]], now: datetime, session: ClientSession) -> None:
    """In one transaction: an order recorded meanwhile makes it run again."""
    ids = [customer["customer_id"] for customer in batch]
    per_day = Order._get_collection().aggregate(
        [
            {"$match": {"customer_id": {"$in": ids}}},
            {
                "$group": {
                    "_id": {"customer": "$customer_id", "day": "$order_date"},
                    "count": {"$sum": 1},
                    "amount": {"$sum": "$order_amount"},
                }
            },
        ],
        session=session,
    )
    days: dict[str, list[dict[str, Any]]] = {customer_id: [] for customer_id in ids}
    for row in per_day:
        day = {"day": row["_id"]["day"], "count": row["count"], "amount": row["amount"]}
        days[row["_id"]["customer"]].append(day)
    floor = oldest_kept(now)
    updates = [
        UpdateOne(
            {"customer_id": customer_id},
            {"$set": _facts(found, floor), "$unset": {"order_history": ""}},
        )
        for customer_id, found in days.items()
    ]
    Customer._get_collection().bulk_write(updates, ordered=False, session=session)


def _facts(days: list[dict[str, Any]], floor: datetime) -> dict[str, Any]:
    days.sort(key=lambda bucket: bucket["day"])
    total = sum((bucket["amount"].to_decimal() for bucket in days), Decimal(0))
    return {
        "order_count": sum(bucket["count"] for bucket in days),
        "order_total": Decimal128(total),
        "first_order_date": days[0]["day"] if days else None,
        "last_order_date": days[-1]["day"] if days else None,
        DAYS: {
            key(bucket["day"]): {"count": bucket["count"], "amount": bucket["amount"]}
            for bucket in days
            if bucket["day"] >= floor
        },
    }
