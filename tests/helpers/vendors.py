"""The vendor simulator served for a test, and a receiver standing in for the CRM's
receipt endpoint."""

import contextlib
import threading
from collections.abc import Iterator

import pytest
import requests
from werkzeug.wrappers import Request, Response

from crm.vendor import OutboundMessage
from devstack.embedded import serve
from vendor_simulator import config, create_app
from vendor_simulator.simulator import EXTENSION


@contextlib.contextmanager
def running_vendor(**overrides) -> Iterator[str]:
    """A fresh simulator over HTTP: everything SENT, a fixed seed, receipts within 20 ms."""
    defaults = {"success_rate": 1.0, "seed": 7, "receipt_delay_ms": 20}
    app = create_app(config.load({}, **(defaults | overrides)))
    try:
        with serve(app) as url:
            yield url
    finally:
        app.extensions[EXTENSION].close()


class Receiver:
    """Records receipt requests; answers with ``statuses`` first, then 204."""

    def __init__(self, statuses: tuple[int, ...] = ()):
        self.statuses = list(statuses)
        self.attempts = 0
        self.batches: list[list[dict]] = []
        self.signed: list[tuple[bytes, str | None, str | None]] = []  # body, timestamp, signature
        self.url = ""
        self._changed = threading.Condition()

    @Request.application
    def __call__(self, request: Request) -> Response:
        with self._changed:
            self.attempts += 1
            if self.statuses:
                return Response(status=self.statuses.pop(0))
            body = request.get_data()
            headers = request.headers
            self.signed.append(
                (body, headers.get("X-Signature-Timestamp"), headers.get("X-Signature"))
            )
            self.batches.append(request.get_json()["receipts"])
            self._changed.notify_all()
        return Response(status=204)

    def receipts(self) -> list[dict]:
        with self._changed:
            return [receipt for batch in self.batches for receipt in batch]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict]:
        with self._changed:
            arrived = self._changed.wait_for(lambda: len(self.receipts()) >= count, timeout)
        assert arrived, f"{len(self.receipts())} of {count} receipts arrived"
        return self.receipts()


@contextlib.contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()
    with serve(receiver) as url:
        receiver.url = f"{url}/receipts"
        yield receiver


def message(key: str, to: str = "+15550100") -> OutboundMessage:
    return OutboundMessage(idempotency_key=key, to=to, body="Hi, 10% off this week")


def stats(http: requests.Session, vendor_url: str) -> dict:
    return http.get(f"{vendor_url}/admin/stats", timeout=2).json()


def deliveries(http: requests.Session, vendor_url: str, key: str) -> dict:
    return http.get(f"{vendor_url}/admin/deliveries/{key}", timeout=2).json()


def set_fault(http: requests.Session, vendor_url: str, **fault) -> None:
    http.post(f"{vendor_url}/admin/faults", json=fault, timeout=2).raise_for_status()


def lookup(http: requests.Session, vendor_url: str, keys: list[str]) -> list[dict]:
    response = http.post(
        f"{vendor_url}/messages/lookup", json={"idempotency_keys": keys}, timeout=2
    )
    response.raise_for_status()
    return response.json()["results"]


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as receiver:
        yield receiver


@pytest.fixture
def vendor_url() -> Iterator[str]:
    """A fresh simulator for a vendor test (conftest's ``vendor`` serves the CRM's tests)."""
    with running_vendor() as url:
        yield url
