"""Failures the tests switch on through ``POST /admin/faults``."""

from dataclasses import dataclass, replace
from enum import StrEnum


class FaultMode(StrEnum):
    NONE = "none"
    ERROR_500 = "error_500"
    ERROR_429 = "error_429"
    # Takes the batch as usual but answers only after ``delay_seconds``: the client's timeout
    # fires though the messages were accepted, so its retry meets them again as duplicates.
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class Fault:
    mode: FaultMode = FaultMode.NONE
    requests: int | None = None
    retry_after: int = 1
    delay_seconds: float = 15.0

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
            "retry_after": self.retry_after,
            "delay_seconds": self.delay_seconds,
        }
