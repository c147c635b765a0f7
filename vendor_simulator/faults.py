"""Failures the tests switch on through ``POST /admin/faults``."""

from dataclasses import dataclass, replace
from enum import StrEnum


class FaultMode(StrEnum):
    NONE = "none"
    ERROR_500 = "error_500"
    ERROR_429 = "error_429"
    # Takes the batch as usual but answers only after ``delay_seconds``: the client's timeout
    # fires though the messages were accepted.
    TIMEOUT = "timeout"
    # Answers 503 only after ``delay_seconds``, without taking the batch.
    HANG = "hang"
    # Takes and delivers the batch, but its receipt callbacks are lost on the way.
    DROP_RECEIPTS = "drop_receipts"


# A vendor that is down is down for lookups too; the other modes concern messages only.
LOOKUP_FAULTS = frozenset({FaultMode.ERROR_500, FaultMode.ERROR_429, FaultMode.HANG})


@dataclass(frozen=True)
class Fault:
    mode: FaultMode = FaultMode.NONE
    # The fault ends after this many requests meet it, or this many seconds, whichever
    # comes first; None for both: until changed.
    requests: int | None = None
    seconds: float | None = None
    retry_after: int = 1
    delay_seconds: float = 15.0
    ends_at: float | None = None  # on the monotonic clock, set by ``starting``

    def starting(self, now: float) -> "Fault":
        return replace(self, ends_at=None if self.seconds is None else now + self.seconds)

    def in_force(self, now: float) -> "Fault":
        """This fault, or no fault once its time is up."""
        if self.ends_at is not None and now >= self.ends_at:
            return Fault()
        return self

    def after_one_request(self) -> "Fault":
        """What is left of this fault once one more request has met it."""
        if self.requests is None:
            return self
        if self.requests <= 1:
            return Fault()
        return replace(self, requests=self.requests - 1)

    def to_json(self) -> dict:
        return {
            "mode": str(self.mode),
            "requests": self.requests,
            "seconds": self.seconds,
            "retry_after": self.retry_after,
            "delay_seconds": self.delay_seconds,
        }
