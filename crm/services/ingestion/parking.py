"""Orders whose customer is not known yet wait in parking rather than being rejected.

Imports arrive in any order: an orders import may overtake the customers import it
needs (both queued at once, chunks applied by several workers), or a customer may come
later through ``POST /api/customers``. Such an order is valid, so it waits in
``parked_orders``, counted as ``parked``, and is applied (in one transaction that also
takes it out of parking) as soon as
- a customers chunk creates its customer, or
- a retry of its job finds the customer: retries start once the job is DONE and back
  off from 10 s, doubling, to at most 15 min.
``ingest_park_seconds`` after the job finished, the orders still waiting are rejected,
each with its row number and the reason.
"""

import itertools
from datetime import timedelta
from functools import partial
from typing import Any

from bson import ObjectId
from pymongo.client_session import ClientSession

from crm.clock import utcnow
from crm.services.ingestion import jobs, load_customers, load_orders
from crm.store import ingestions, parked_orders, transaction

FIRST_RETRY_MS = 10_000
MAX_RETRY_MS = 15 * 60_000
BATCH = 1000


def settle_customers(customer_ids: list[str]) -> int:
    """Apply the orders parked for these newly created customers; returns how many."""
    if not customer_ids:
        return 0
    arrived = sorted(parked_orders.waiting_among(customer_ids))
    return _settle(parked_orders.of_customers(arrived)) if arrived else 0


def retry(ingestion_id: ObjectId, attempt: int, park_seconds: float) -> int | None:
    """Settle what the job has parked; the delay in ms before the next attempt, or None.

    Past the deadline, what is still parked is rejected. Only the first caller with a
    given ``attempt`` schedules the next, so a redelivered retry starts no second chain.
    """
    _settle(parked_orders.of_job(ingestion_id))
    if not parked_orders.any_in(parked_orders.of_job(ingestion_id)):
        return None
    job = jobs.get(ingestion_id)
    deadline = (job.finished_at or job.created_at) + timedelta(seconds=park_seconds)
    left_ms = (deadline - utcnow()).total_seconds() * 1000
    if left_ms <= 0:
        expire(ingestion_id, park_seconds)
        return None
    if not ingestions.advance_park_attempts(ingestion_id, attempt):
        return None
    return delay_ms(left_ms / 1000, attempt + 1)


def delay_ms(seconds_left: float, attempt: int) -> int:
    """How long retry ``attempt`` waits: doubling, capped, and never past the deadline."""
    return max(100, int(min(FIRST_RETRY_MS * 2**attempt, MAX_RETRY_MS, seconds_left * 1000)))


def expire(ingestion_id: ObjectId, park_seconds: float) -> None:
    """Reject the job's orders still parked: their customer never came."""
    waited = f"{park_seconds / 3600:g} h" if park_seconds >= 3600 else f"{park_seconds:g} s"
    while page := parked_orders.first(parked_orders.of_job(ingestion_id), BATCH):
        try:
            transaction.run(partial(_reject, ingestion_id, page, waited))
        except load_orders.ParkingRaced:
            continue  # some were settled meanwhile; read the page again


def _reject(
    ingestion_id: ObjectId, page: list[dict[str, Any]], waited: str, session: ClientSession
) -> None:
    """Take ``page`` out of parking as rejected rows, each with the reason."""
    tally = jobs.Tally(parked=-len(page))
    for order in page:
        reason = f"Unknown customer {order['customer_id']!r}: not created within {waited}."
        tally.reject(order["row"], {"customer_id": [reason]})
    if not parked_orders.unpark([order["_id"] for order in page], session):
        raise load_orders.ParkingRaced(str(ingestion_id))
    jobs.record_batch(session, ingestion_id, f"expire:{ObjectId()}", None, tally)


def _settle(selection: parked_orders.Selection) -> int:
    """Apply the parked orders in ``selection`` whose customer exists now; returns how many."""
    settled, after = 0, None
    while True:
        page = parked_orders.page(selection, after, BATCH)
        if not page:
            return settled
        after = page[-1]["_id"]
        known = load_customers.existing(list({order["customer_id"] for order in page}))
        ready = sorted(
            (order for order in page if order["customer_id"] in known),
            key=lambda order: order["ingestion_id"],
        )
        now = utcnow()
        for ingestion_id, group in itertools.groupby(ready, key=lambda o: o["ingestion_id"]):
            orders = list(group)
            try:
                load_orders.apply(
                    ingestion_id,
                    f"settle:{ObjectId()}",
                    [(order["row"], _stored_form(order, now)) for order in orders],
                    [order["_id"] for order in orders],
                )
            except load_orders.ParkingRaced:
                continue  # another worker settled some of them, and counted them
            settled += len(orders)


def _stored_form(parked: dict[str, Any], now) -> dict[str, Any]:
    fields = ("order_id", "customer_id", "order_amount", "order_date")
    return {**{name: parked[name] for name in fields}, "created_at": now}
