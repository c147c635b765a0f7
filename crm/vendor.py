"""The CRM's client for the messaging vendor: one session, explicit timeouts, typed errors."""

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Self

import requests

CONNECT_TIMEOUT_SECONDS = 3.05
ACCEPTED_STATUSES = frozenset({"accepted", "duplicate"})


@dataclass(frozen=True)
class OutboundMessage:
    idempotency_key: str
    to: str
    body: str


@dataclass(frozen=True)
class VendorResult:
    idempotency_key: str
    # A duplicate counts as accepted: the vendor already has the message.
    accepted: bool
    reason: str | None = None


class VendorError(Exception):
    """The vendor did not take the batch."""


class VendorUnavailable(VendorError):
    """Down, overloaded or slow: send the same batch again later; idempotency keys make it safe."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class VendorRejected(VendorError):
    """The vendor refused the request itself; sending it again cannot help."""

    def __init__(self, message: str, status_code: int):
        super().__init__(message)
        self.status_code = status_code


class VendorClient:
    def __init__(self, base_url: str, timeout: float, session: requests.Session | None = None):
        self._url = base_url.rstrip("/") + "/messages"
        self._timeout = (min(CONNECT_TIMEOUT_SECONDS, timeout), timeout)
        self._session = session or requests.Session()

    def send_batch(
        self, callback_url: str, messages: Sequence[OutboundMessage]
    ) -> list[VendorResult]:
        """One result per message, in order; raises ``VendorError`` if the batch was not taken."""
        payload = {"callback_url": callback_url, "messages": [asdict(m) for m in messages]}
        try:
            response = self._session.post(self._url, json=payload, timeout=self._timeout)
        except (requests.Timeout, requests.ConnectionError) as error:
            raise VendorUnavailable(f"vendor unreachable: {error}") from error
        status = response.status_code
        if status == 429 or status >= 500:
            retry_after = _retry_after(response.headers.get("Retry-After"))
            raise VendorUnavailable(f"vendor answered {status}", retry_after)
        if status >= 400:
            raise VendorRejected(f"vendor answered {status}: {response.text[:500]}", status)
        return _results(response, messages)

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _retry_after(header: str | None) -> float | None:
    # Only the delay-seconds form; an HTTP-date falls back to the caller's own backoff.
    if header is None or not header.strip().isdigit():
        return None
    return float(header)


def _results(
    response: requests.Response, messages: Sequence[OutboundMessage]
) -> list[VendorResult]:
    try:
        results = [
            VendorResult(
                row["idempotency_key"], row["status"] in ACCEPTED_STATUSES, row.get("reason")
            )
            for row in response.json()["results"]
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise VendorUnavailable(f"unreadable vendor answer: {error}") from error
    if [r.idempotency_key for r in results] != [m.idempotency_key for m in messages]:
        raise VendorUnavailable("vendor answer does not match the batch")
    return results
