"""The CRM's client for the messaging vendor: one session, explicit timeouts, typed errors."""

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from email.utils import parsedate_to_datetime
from typing import Self, TypeVar

import requests
from urllib3.exceptions import NewConnectionError

CONNECT_TIMEOUT_SECONDS = 3.05
ACCEPTED_STATUSES = frozenset({"accepted", "duplicate"})
LOOKUP_BATCH = 1000  # the most keys the vendor looks up in one request


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


@dataclass(frozen=True)
class LookupResult:
    idempotency_key: str
    # Whether the vendor has a message under this key at all.
    known: bool
    # SENT or FAILED once the outcome has happened; None before, or when unknown.
    final_status: str | None
    reason: str | None


Result = TypeVar("Result", VendorResult, LookupResult)


class VendorError(Exception):
    """The vendor did not take the request."""


class VendorUnavailable(VendorError):
    """Down, overloaded or slow: try again later.

    ``ambiguous`` is True when the request may have reached the vendor (it may have taken
    the batch), False when it certainly did not.
    """

    def __init__(self, message: str, retry_after: float | None = None, *, ambiguous: bool = True):
        super().__init__(message)
        self.retry_after = retry_after
        self.ambiguous = ambiguous


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
        keys = [m.idempotency_key for m in messages]
        return self._post(self._url, payload, keys, _vendor_result)

    def lookup(self, idempotency_keys: Sequence[str]) -> list[LookupResult]:
        """What the vendor knows of each key, in order, asked in batches of ``LOOKUP_BATCH``."""
        results = []
        for start in range(0, len(idempotency_keys), LOOKUP_BATCH):
            keys = list(idempotency_keys[start : start + LOOKUP_BATCH])
            payload = {"idempotency_keys": keys}
            results += self._post(f"{self._url}/lookup", payload, keys, _lookup_result)
        return results

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _post(
        self, url: str, payload: dict, keys: list[str], parse: Callable[[dict], Result]
    ) -> list[Result]:
        """One parsed row of the answer per key, in order, or a typed error."""
        try:
            response = self._session.post(url, json=payload, timeout=self._timeout)
        except (requests.Timeout, requests.ConnectionError) as error:
            raise VendorUnavailable(
                f"vendor unreachable: {error}", ambiguous=not _never_sent(error)
            ) from error
        status = response.status_code
        if status == 429 or status >= 500:
            retry_after = _retry_after(response.headers.get("Retry-After"))
            raise VendorUnavailable(
                f"vendor answered {status}", retry_after, ambiguous=status != 429
            )
        if status >= 400:
            raise VendorRejected(f"vendor answered {status}: {response.text[:500]}", status)
        try:
            results = [parse(row) for row in response.json()["results"]]
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise VendorUnavailable(f"unreadable vendor answer: {error!r}") from error
        if [result.idempotency_key for result in results] != keys:
            raise VendorUnavailable("vendor answer does not match the request")
        return results


def _vendor_result(row: dict) -> VendorResult:
    accepted = row["status"] in ACCEPTED_STATUSES
    return VendorResult(row["idempotency_key"], accepted, row.get("reason"))


def _lookup_result(row: dict) -> LookupResult:
    known = row["status"] == "accepted"
    return LookupResult(row["idempotency_key"], known, row.get("final_status"), row.get("reason"))


def _never_sent(error: requests.RequestException) -> bool:
    """True when the connection itself failed, so the vendor cannot have seen the request."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    # requests wraps urllib3's MaxRetryError, whose ``reason`` is the connect failure.
    cause = error.args[0] if error.args else None
    return isinstance(getattr(cause, "reason", cause), NewConnectionError)


def _retry_after(header: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP-date."""
    if header is None:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
