"""Orders applied in one transaction with their effect on customers, and their batch.

Each order is counted once: it is inserted under its unique ``order_id`` in the same
transaction that adds it to its customer (``crm.services.orders.apply_to_customers``,
the single-order path's own logic) and writes the batch's unique key. A redelivered
chunk stops at its key; the same order in two chunks is inserted by one of them; two
chunks moving the same customer at once conflict, and the loser's transaction is run
again by ``with_transaction`` against the winner's result.

The fast path assumes every order is new and every customer known and able to take its
orders. If not, the transaction fails, the orders or customers in question are looked up
once, and the chunk is applied again: a known order is a duplicate (same details) or
rejected (other details); an order whose customer is unknown is parked (see
``parking``); an order that would take its customer past the documented spend or visit
maximum is rejected.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bson import ObjectId
from pymongo.client_session import ClientSession

from crm.documents import Order
from crm.services import orders
from crm.services.ingestion import jobs, load_customers
from crm.store import bulk, order_days, parked_orders, transaction

MAX_ATTEMPTS = 5
CONFLICT = {"order_id": ["Already used by another order with other details."]}
NO_ROOM = {"order_amount": [orders.NO_ROOM]}

# (row, order in its stored form)
RowOrder = tuple[int, dict[str, Any]]


class _CustomersRefused(Exception):
    """Some orders' customers do not exist or have no room for them: look them up and
    apply again, parking or rejecting those orders."""


class ParkingRaced(Exception):
    """Another worker settled some of these parked orders first."""


def apply(
    ingestion_id: ObjectId,
    batch: jobs.Part | str,
    placed: Sequence[RowOrder],
    unparking: Sequence[ObjectId] = (),
    time_budget: float | None = None,
) -> jobs.Tally | None:
    """Apply ``placed`` as the job's batch (a part of the upload's chunks, or the key of
    another batch); None if that batch was applied before.

    ``unparking``: the parked orders these are, removed from parking in the same transaction.
    ``time_budget``: see ``transaction.run``.
    """
    attempt = _Attempt(ingestion_id, batch, *_dedupe(placed), unparking=unparking)
    for _ in range(MAX_ATTEMPTS):
        try:
            return transaction.run(attempt, time_budget, transaction.IMPORTS)
        except bulk.KeysTaken:
            attempt.known = _recorded(list(attempt.unique), unparking)
        except _CustomersRefused:
            wanted = {order["customer_id"] for _, order in attempt.unique.values()}
            attempt.missing = wanted - load_customers.existing(list(wanted))
            attempt.no_room = orders.without_room(attempt.new_orders())
        except jobs.AlreadyApplied:
            return None
    raise transaction.KeptChanging(
        f"{batch}: its orders or customers kept changing; retry it later"
    )


def _dedupe(placed: Sequence[RowOrder]) -> tuple[jobs.Tally, dict[str, RowOrder]]:
    """The first row of each order_id; a repeat is a duplicate, or rejected if it differs."""
    tally = jobs.Tally()
    unique: dict[str, RowOrder] = {}
    for row, order in placed:
        entry = (row, order)
        first = unique.setdefault(order["order_id"], entry)
        if first is entry:
            continue
        if _same(first[1], order):
            tally.duplicates += 1
        else:
            tally.reject(row, CONFLICT)
    return tally, unique


@dataclass
class _Attempt:
    """The batch's transaction, given the orders known to be recorded or parked already,
    and the customers known to be missing or unable to take their orders."""

    ingestion_id: ObjectId
    batch: jobs.Part | str
    base: jobs.Tally
    unique: dict[str, RowOrder]
    unparking: Sequence[ObjectId] = ()
    known: dict[str, dict[str, Any]] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)
    no_room: set[str] = field(default_factory=set)

    def new_orders(self) -> list[dict[str, Any]]:
        return [
            order
            for order_id, (_, order) in self.unique.items()
            if order_id not in self.known and order["customer_id"] not in self.missing
        ]

    def __call__(self, session: ClientSession) -> jobs.Tally:
        if self.unparking and not parked_orders.unpark(list(self.unparking), session):
            raise ParkingRaced(str(self.batch))
        tally = jobs.Tally(duplicates=self.base.duplicates, rejected=self.base.rejected)
        tally.rejections = list(self.base.rejections)
        fresh: list[dict[str, Any]] = []
        to_park: list[RowOrder] = []
        for order_id, (row, order) in self.unique.items():
            recorded = self.known.get(order_id)
            if recorded is not None:
                if _same(recorded, order):
                    tally.duplicates += 1
                else:
                    tally.reject(row, CONFLICT)
            elif order["customer_id"] in self.missing:
                to_park.append((row, order))
            elif order_id in self.no_room:
                tally.reject(row, NO_ROOM)
            else:
                fresh.append(order)
        tally.inserted, tally.parked = len(fresh), len(to_park) - len(self.unparking)
        if isinstance(self.batch, jobs.Part):
            jobs.record_part(session, self.ingestion_id, self.batch, tally)
        else:
            jobs.record_batch(session, self.ingestion_id, self.batch, None, tally)
        bulk.insert_new(Order._get_collection(), fresh, session)
        order_days.mark((order["order_date"] for order in fresh), session)
        parked_orders.park(self.ingestion_id, to_park, session)
        customers = {order["customer_id"] for order in fresh}
        if orders.apply_to_customers(fresh, session) < len(customers):
            raise _CustomersRefused
        return tally


def _same(recorded: dict[str, Any], order: dict[str, Any]) -> bool:
    return (
        recorded["customer_id"] == order["customer_id"]
        and recorded["order_date"] == order["order_date"]
        and recorded["order_amount"].to_decimal() == order["order_amount"].to_decimal()
    )


def _recorded(order_ids: list[str], unparking: Sequence[ObjectId]) -> dict[str, dict[str, Any]]:
    """The orders among ``order_ids`` already recorded, or parked (but not being unparked)."""
    fields = parked_orders.ORDER_FIELDS
    found = {
        order["order_id"]: order
        for order in Order._get_collection().find({"order_id": {"$in": order_ids}}, fields)
    }
    for order in parked_orders.with_order_ids(order_ids, excluding=list(unparking)):
        found.setdefault(order["order_id"], order)
    return found
