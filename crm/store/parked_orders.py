"""Queries on parked orders: valid orders waiting for their customer, by job.

A selection (``of_customers``, ``of_job``) names which parked orders a page is read from.
Functions that take a ``session`` run inside the caller's transaction (``transaction.run``).
"""

from typing import Any

from bson import ObjectId
from pymongo.client_session import ClientSession
from pymongo.collection import Collection

from crm.clock import utcnow
from crm.documents import ParkedOrder
from crm.store import bulk

# What tells two records of one order_id apart.
ORDER_FIELDS = {"order_id": 1, "customer_id": 1, "order_amount": 1, "order_date": 1}

Selection = dict[str, Any]


def _parked() -> Collection:
    return ParkedOrder._get_collection()


def of_customers(customer_ids: list[str]) -> Selection:
    return {"customer_id": {"$in": customer_ids}}


def of_job(ingestion_id: ObjectId) -> Selection:
    return {"ingestion_id": ingestion_id}


def park(
    ingestion_id: ObjectId, placed: list[tuple[int, dict[str, Any]]], session: ClientSession
) -> None:
    """Park each ``(row, order)`` of the job; KeysTaken if an order_id is parked already."""
    now = utcnow()
    waiting = [
        {**order, "ingestion_id": ingestion_id, "row": row, "parked_at": now}
        for row, order in placed
    ]
    bulk.insert_new(_parked(), waiting, session)


def unpark(parked_ids: list[ObjectId], session: ClientSession) -> bool:
    """Take these orders out of parking; False if some had been taken out already."""
    removed = _parked().delete_many({"_id": {"$in": parked_ids}}, session=session)
    return removed.deleted_count == len(parked_ids)


def waiting_among(customer_ids: list[str]) -> set[str]:
    """Those of ``customer_ids`` some parked order waits for (read through the
    customer_id index: as many as asked about, however many orders are parked)."""
    return set(_parked().distinct("customer_id", {"customer_id": {"$in": customer_ids}}))


def any_in(selection: Selection) -> bool:
    return _parked().find_one(selection, {"_id": 1}) is not None


def first(selection: Selection, limit: int) -> list[dict[str, Any]]:
    return list(_parked().find(selection).limit(limit))


def page(selection: Selection, after: ObjectId | None, limit: int) -> list[dict[str, Any]]:
    """The next ``limit`` in ``_id`` order after ``after``."""
    query = selection if after is None else {"$and": [selection, {"_id": {"$gt": after}}]}
    return list(_parked().find(query).sort("_id", 1).limit(limit))


def with_order_ids(order_ids: list[str], excluding: list[ObjectId]) -> list[dict[str, Any]]:
    """The parked orders among ``order_ids``, but for ``excluding``, with ``ORDER_FIELDS``."""
    query = {"order_id": {"$in": order_ids}, "_id": {"$nin": excluding}}
    return list(_parked().find(query, ORDER_FIELDS))
