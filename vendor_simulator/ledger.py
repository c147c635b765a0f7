"""What the vendor has seen: its de-duplication store and its counters."""

from dataclasses import dataclass, field
from uuid import uuid4

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
REJECTED = "rejected"


@dataclass
class Entry:
    vendor_message_id: str
    submissions: int = 1


@dataclass
class Ledger:
    """Not thread-safe: the simulator holds its lock around every call."""

    entries: dict[str, Entry] = field(default_factory=dict)
    requests: int = 0
    messages: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    max_submissions: int = 0

    def record(self, idempotency_key: str, to: str) -> dict:
        """Take one message and return its result; only ``accepted`` ones are ever delivered."""
        self.messages += 1
        if not to.strip():
            self.rejected += 1
            return _result(idempotency_key, REJECTED, None, "invalid_recipient")
        entry = self.entries.get(idempotency_key)
        if entry is None:
            entry = self.entries[idempotency_key] = Entry(uuid4().hex)
            self.accepted += 1
            status = ACCEPTED
        else:
            entry.submissions += 1
            self.duplicates += 1
            status = DUPLICATE
        self.max_submissions = max(self.max_submissions, entry.submissions)
        return _result(idempotency_key, status, entry.vendor_message_id, None)

    def deliveries(self, idempotency_key: str) -> dict:
        # De-duplication delivers a key at most once; ``submissions`` counts how often it came.
        entry = self.entries.get(idempotency_key)
        return {
            "idempotency_key": idempotency_key,
            "deliveries": 1 if entry else 0,
            "submissions": entry.submissions if entry else 0,
        }

    def stats(self) -> dict:
        return {
            "requests": self.requests,
            "messages": self.messages,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "max_deliveries_per_key": 1 if self.entries else 0,
            "max_submissions_per_key": self.max_submissions,
        }


def _result(key: str, status: str, vendor_message_id: str | None, reason: str | None) -> dict:
    return {
        "idempotency_key": key,
        "status": status,
        "vendor_message_id": vendor_message_id,
        "reason": reason,
    }
