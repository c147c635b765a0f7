"""What the vendor has seen and done: each key's submissions and deliveries, and counters."""

from dataclasses import dataclass, field

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
REJECTED = "rejected"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Delivery:
    vendor_message_id: str
    # Decided at acceptance; it happens, and its receipt is due, at ``due`` (monotonic clock).
    final_status: str
    reason: str | None
    due: float


@dataclass
class Entry:
    latest: Delivery
    submissions: int = 1
    deliveries: int = 1


@dataclass
class Ledger:
    """Not thread-safe: the simulator holds its lock around every call."""

    entries: dict[str, Entry] = field(default_factory=dict)
    requests: int = 0
    # The most messages one request carried.
    largest_batch: int = 0
    lookups: int = 0
    messages: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    receipts_lost: int = 0

    def has(self, idempotency_key: str) -> bool:
        return idempotency_key in self.entries

    def reject(self, idempotency_key: str) -> dict:
        self.messages += 1
        self.rejected += 1
        return _result(idempotency_key, REJECTED, None, "invalid_recipient")

    def deliver(self, idempotency_key: str, delivery: Delivery) -> dict:
        self.messages += 1
        self.accepted += 1
        entry = self.entries.get(idempotency_key)
        if entry is None:
            self.entries[idempotency_key] = Entry(delivery)
        else:
            entry.latest = delivery
            entry.submissions += 1
            entry.deliveries += 1
        return _result(idempotency_key, ACCEPTED, delivery.vendor_message_id, None)

    def repeat(self, idempotency_key: str) -> dict:
        """A known key answered as a duplicate, without delivering it again."""
        self.messages += 1
        self.duplicates += 1
        entry = self.entries[idempotency_key]
        entry.submissions += 1
        return _result(idempotency_key, DUPLICATE, entry.latest.vendor_message_id, None)

    def lookup(self, idempotency_key: str, now: float) -> dict:
        """The key's latest delivery; its outcome only once that has happened."""
        entry = self.entries.get(idempotency_key)
        if entry is None:
            return _lookup(idempotency_key, UNKNOWN, None, None)
        latest = entry.latest
        if now < latest.due:
            return _lookup(idempotency_key, ACCEPTED, None, None)
        return _lookup(idempotency_key, ACCEPTED, latest.final_status, latest.reason)

    def deliveries(self, idempotency_key: str) -> dict:
        entry = self.entries.get(idempotency_key)
        return {
            "idempotency_key": idempotency_key,
            "deliveries": entry.deliveries if entry else 0,
            "submissions": entry.submissions if entry else 0,
        }

    def stats(self) -> dict:
        deliveries = [entry.deliveries for entry in self.entries.values()]
        return {
            "requests": self.requests,
            "largest_batch": self.largest_batch,
            "lookups": self.lookups,
            "messages": self.messages,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "deliveries": sum(deliveries),
            "max_deliveries_per_key": max(deliveries, default=0),
            "keys_delivered_more_than_once": sum(1 for count in deliveries if count > 1),
            "max_submissions_per_key": max(
                (entry.submissions for entry in self.entries.values()), default=0
            ),
            "receipts_lost": self.receipts_lost,
        }


def _result(key: str, status: str, vendor_message_id: str | None, reason: str | None) -> dict:
    return {
        "idempotency_key": key,
        "status": status,
        "vendor_message_id": vendor_message_id,
        "reason": reason,
    }


def _lookup(key: str, status: str, final_status: str | None, reason: str | None) -> dict:
    return {
        "idempotency_key": key,
        "status": status,
        "final_status": final_status,
        "reason": reason,
    }
