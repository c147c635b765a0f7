"""Counts over time, for the console's charts. Each series is one aggregation, bounded in
time, matched through an index and cut off at the query time limit.

Buckets follow ``$dateTrunc``'s bins (aligned on 2000-01-01), so the empty ones between
the counted ones are filled in here the same way.
"""

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bson import ObjectId
from pymongo.errors import ExecutionTimeout

from crm import db
from crm.clock import utcnow
from crm.documents import (
    Campaign,
    CampaignStatus,
    CommunicationLog,
    Customer,
    MessageStatus,
    Order,
)
from crm.services.errors import QueryTooSlow
from crm.store import order_days

# Bucket sizes a chart may use, smallest first: the first giving at most MAX_BUCKETS.
STEPS = (
    (1, "second"),
    (5, "second"),
    (15, "second"),
    (30, "second"),
    (1, "minute"),
    (5, "minute"),
    (15, "minute"),
    (1, "hour"),
    (6, "hour"),
    (1, "day"),
)
UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
MAX_BUCKETS = 60
DASHBOARD_DAYS = 90
# A move's updated_at is taken inside its transaction, which may commit up to MongoDB's
# transaction lifetime (60 s by default) later: buckets older than that are final.
OPEN_TRANSACTIONS = timedelta(seconds=75)
KEPT_CAMPAIGNS = 256
BIN_ORIGIN = datetime(2000, 1, 1)
SETTLED = (MessageStatus.SENT.value, MessageStatus.FAILED.value)
# The logs' index holding all the deliveries chart reads: its aggregation reads no document.
COVERING = {"campaign_id": 1, "status": 1, "updated_at": 1}


@dataclass(frozen=True)
class Step:
    size: int
    unit: str

    @property
    def delta(self) -> timedelta:
        return timedelta(seconds=self.size * UNIT_SECONDS[self.unit])

    @property
    def label(self) -> str:
        return f"{self.size} {self.unit}{'s' if self.size > 1 else ''}"

    def floor(self, moment: datetime) -> datetime:
        """The start of ``moment``'s bucket, as ``$dateTrunc`` with this bin size puts it."""
        return BIN_ORIGIN + ((moment - BIN_ORIGIN) // self.delta) * self.delta

    def truncate(self, field: str) -> dict[str, Any]:
        return {"$dateTrunc": {"date": field, "unit": self.unit, "binSize": self.size}}


def step_for(span: timedelta) -> Step:
    for size, unit in STEPS:
        step = Step(size, unit)
        if span <= step.delta * (MAX_BUCKETS - 1):
            return step
    return Step(*STEPS[-1])


def deliveries(campaign: Campaign) -> dict[str, Any]:
    """The campaign's messages settled (SENT or FAILED) per bucket, from when it started
    until it completed (or now): ``{"step", "buckets": [{"at", "sent", "failed"}]}``.

    A message's bucket is that of its ``updated_at``, the moment it settled: final, since
    SENT and FAILED are. So buckets older than any transaction still open are kept
    (``_Settled``), and each refresh counts only the messages settled since, through a
    range of the ``(campaign_id, status, updated_at)`` index whose keys hold all it reads."""
    start = campaign.started_at
    if start is None:
        return {"step": None, "buckets": []}
    end = max(campaign.completed_at or utcnow(), start)
    step = step_for(end - start)
    kept = _settled.take(campaign.id, step)
    counted = kept.counts
    if not kept.whole:
        fresh = _count_settled(campaign.id, step, kept.before)
        for at, got in fresh.items():
            bucket = counted.setdefault(at, {})
            for status, n in got.items():
                bucket[status] = bucket.get(status, 0) + n
        if campaign.status == CampaignStatus.COMPLETED:
            # Completed in the transaction of its last move: nothing settles any more.
            _settled.keep(campaign.id, step, counted, None, whole=True)
        else:
            before = step.floor(utcnow() - OPEN_TRANSACTIONS)
            if kept.before is None or before > kept.before:
                final = {at: got for at, got in counted.items() if at + step.delta <= before}
                _settled.keep(campaign.id, step, final, before)
    first = step.floor(min([start, *counted]))
    last = step.floor(max([end, *counted]))
    buckets = []
    at = first
    while at <= last:
        got = counted.get(at, {})
        buckets.append({"at": at, "sent": got.get("sent", 0), "failed": got.get("failed", 0)})
        at += step.delta
    return {"step": step.label, "buckets": buckets}


def _count_settled(
    campaign_id: ObjectId, step: Step, since: datetime | None
) -> dict[datetime, dict[str, int]]:
    match: dict[str, Any] = {"campaign_id": campaign_id, "status": {"$in": list(SETTLED)}}
    if since is not None:
        match["updated_at"] = {"$gte": since}
    pipeline = [
        {"$match": match},
        {"$project": {"_id": 0, "status": 1, "updated_at": 1}},
        {
            "$group": {
                "_id": {"at": step.truncate("$updated_at"), "status": "$status"},
                "n": {"$sum": 1},
            }
        },
    ]
    counted: dict[datetime, dict[str, int]] = {}
    for row in _aggregate(CommunicationLog, pipeline, "deliveries", hint=COVERING):
        at = _naive(row["_id"]["at"])
        counted.setdefault(at, {})[row["_id"]["status"].lower()] = row["n"]
    return counted


@dataclass
class _Kept:
    counts: dict[datetime, dict[str, int]]
    before: datetime | None  # the counts hold every message settled before this
    whole: bool = False  # the counts are the campaign's for good


class _Settled:
    """Per process, the final buckets of the campaigns charted lately (a bounded LRU)."""

    def __init__(self, size: int):
        self._size = size
        self._kept: OrderedDict[ObjectId, tuple[Step, _Kept]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, campaign_id: ObjectId, step: Step) -> _Kept:
        """A copy of what is kept, in buckets of ``step`` (each a whole number of the
        kept ones: every step is a multiple of the smaller, on the same origin)."""
        with self._lock:
            found = self._kept.get(campaign_id)
            if found is None or found[0].delta > step.delta:
                return _Kept({}, None)
            self._kept.move_to_end(campaign_id)
            kept = found[1]
        counts: dict[datetime, dict[str, int]] = {}
        for at, got in kept.counts.items():
            bucket = counts.setdefault(step.floor(at), {})
            for status, n in got.items():
                bucket[status] = bucket.get(status, 0) + n
        return _Kept(counts, kept.before, kept.whole)

    def keep(
        self,
        campaign_id: ObjectId,
        step: Step,
        counts: dict[datetime, dict[str, int]],
        before: datetime | None,
        whole: bool = False,
    ) -> None:
        with self._lock:
            self._kept[campaign_id] = (step, _Kept(counts, before, whole))
            self._kept.move_to_end(campaign_id)
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)


_settled = _Settled(KEPT_CAMPAIGNS)


def orders_by_day(today: datetime | None = None) -> list[dict[str, Any]]:
    """Orders and revenue per day for the last ``DASHBOARD_DAYS`` days: ``[{"day",
    "orders", "revenue"}]``, oldest first. Past days come from their kept totals
    (``crm.store.order_days``); the others are counted through the ``order_date`` index
    and kept for next time."""
    days = _days(today)
    started_at = utcnow()
    kept, marks = order_days.read(days)
    totals = {
        day: (entry["orders"], _decimal(entry["revenue"]))
        for day, entry in kept.items()
        if day not in marks
    }
    stale = [day for day in days if day not in totals]
    counted = _count_orders(stale)
    for day in stale:
        found = counted.get(_key(day), {})
        totals[day] = (found.get("orders", 0), _decimal(found.get("revenue")))
    keepable = [day for day in stale if order_days.keepable(day, started_at)]
    order_days.keep(
        started_at,
        {day: totals[day] for day in keepable},
        [mark for day in keepable for mark in marks.get(day, [])],
    )
    return [{"day": day, "orders": totals[day][0], "revenue": totals[day][1]} for day in days]


def _count_orders(days: list[datetime]) -> dict[str, dict[str, Any]]:
    """Orders and revenue of each of ``days``, by day key: one aggregation, a range of the
    ``order_date`` index per run of consecutive days."""
    if not days:
        return {}
    runs: list[list[datetime]] = []
    for day in days:
        if runs and day - runs[-1][-1] == timedelta(days=1):
            runs[-1].append(day)
        else:
            runs.append([day])
    ranges = [{"order_date": {"$gte": run[0], "$lt": run[-1] + timedelta(days=1)}} for run in runs]
    pipeline: list[dict[str, Any]] = [
        {"$match": ranges[0] if len(ranges) == 1 else {"$or": ranges}},
        {
            "$group": {
                "_id": _day("$order_date"),
                "orders": {"$sum": 1},
                "revenue": {"$sum": "$order_amount"},
            }
        },
    ]
    return {row["_id"]: row for row in _aggregate(Order, pipeline, "orders")}


def new_customers_by_day(today: datetime | None = None) -> list[dict[str, Any]]:
    """Customers whose first order fell on each of the last ``DASHBOARD_DAYS`` days
    (through the ``first_order_date`` index): ``[{"day", "customers"}]``, oldest first."""
    days = _days(today)
    pipeline = [
        {"$match": {"first_order_date": {"$gte": days[0]}}},
        {"$group": {"_id": _day("$first_order_date"), "customers": {"$sum": 1}}},
    ]
    found = {row["_id"]: row["customers"] for row in _aggregate(Customer, pipeline, "customers")}
    return [{"day": day, "customers": found.get(_key(day), 0)} for day in days]


def _days(today: datetime | None) -> list[datetime]:
    now = today or utcnow()
    last = datetime(now.year, now.month, now.day)
    return [last - timedelta(days=back) for back in range(DASHBOARD_DAYS - 1, -1, -1)]


def _day(field: str) -> dict[str, Any]:
    return {"$dateToString": {"date": field, "format": "%Y-%m-%d"}}


def _key(day: datetime) -> str:
    return day.strftime("%Y-%m-%d")


def _decimal(value: Any) -> Decimal:
    return value.to_decimal() if value is not None else Decimal(0)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _aggregate(
    document: Any, pipeline: list[dict[str, Any]], what: str, **options: Any
) -> list[dict]:
    collection = document._get_collection()
    try:
        return list(collection.aggregate(pipeline, maxTimeMS=db.query_timeout_ms(), **options))
    except ExecutionTimeout:
        raise QueryTooSlow(
            f"Counting the {what} over time took past the {db.query_timeout_ms():,} ms limit."
        ) from None
