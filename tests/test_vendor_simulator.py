"""The vendor simulator and the CRM's client for it, over real sockets.

Each test serves a fresh simulator with werkzeug on a free port, and a small
receiver standing in for the CRM's receipt endpoint.
"""

import contextlib
import threading
from collections.abc import Iterator

import pytest
import requests
from werkzeug.wrappers import Request, Response

from crm import config
from crm.vendor import (
    OutboundMessage,
    VendorClient,
    VendorRejected,
    VendorResult,
    VendorUnavailable,
)
from devstack.embedded import free_port, serve
from tests.campaigns import eventually
from vendor_simulator import create_app, dispatcher
from vendor_simulator.simulator import EXTENSION


@contextlib.contextmanager
def running_vendor(**overrides) -> Iterator[str]:
    defaults = {"vendor_success_rate": 1.0, "vendor_seed": 7, "vendor_receipt_delay_ms": 20}
    app = create_app(config.load({}, **(defaults | overrides)))
    try:
        with serve(app) as url:
            yield url
    finally:
        app.extensions[EXTENSION].close()


class Receiver:
    """Stands in for the CRM's receipt endpoint: records batches, answers ``statuses`` first."""

    def __init__(self, statuses: tuple[int, ...] = ()):
        self.statuses = list(statuses)
        self.attempts = 0
        self.batches: list[list[dict]] = []
        self.url = ""
        self._changed = threading.Condition()

    @Request.application
    def __call__(self, request: Request) -> Response:
        with self._changed:
            self.attempts += 1
            if self.statuses:
                return Response(status=self.statuses.pop(0))
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


def message(key: str, to: str = "+15550100") -> OutboundMessage:
    return OutboundMessage(idempotency_key=key, to=to, body="Hi, 10% off this week")


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    with serve(receiver) as url:
        receiver.url = f"{url}/receipts"
        yield receiver


@pytest.fixture
def vendor_url() -> Iterator[str]:
    with running_vendor() as url:
        yield url


@pytest.fixture
def vendor(vendor_url: str) -> Iterator[VendorClient]:
    client = VendorClient(vendor_url, timeout=2)
    yield client
    client.close()


def stats(http: requests.Session, vendor_url: str) -> dict:
    return http.get(f"{vendor_url}/admin/stats", timeout=2).json()


def set_fault(http: requests.Session, vendor_url: str, **fault) -> None:
    http.post(f"{vendor_url}/admin/faults", json=fault, timeout=2).raise_for_status()


# Answers and receipts


def test_accepted_message_gets_a_receipt(vendor, receiver):
    assert vendor.send_batch(receiver.url, [message("log-1")]) == [
        VendorResult("log-1", accepted=True, reason=None)
    ]

    assert receiver.wait_for(1) == [
        {"communication_log_id": "log-1", "status": "SENT", "reason": None}
    ]


def test_failed_outcome_carries_a_reason(receiver):
    with running_vendor(vendor_success_rate=0.0) as url, VendorClient(url, timeout=2) as vendor:
        vendor.send_batch(receiver.url, [message("log-1")])

        assert receiver.wait_for(1) == [
            {"communication_log_id": "log-1", "status": "FAILED", "reason": "undeliverable"}
        ]


def test_answer_lists_every_message_in_request_order(http, vendor_url, receiver):
    body = {
        "callback_url": receiver.url,
        "messages": [
            {"idempotency_key": "b", "to": "+15550100", "body": "x"},
            {"idempotency_key": "a", "to": "", "body": "x"},
            {"idempotency_key": "b", "to": "+15550100", "body": "x"},
        ],
    }

    results = http.post(f"{vendor_url}/messages", json=body, timeout=2).json()["results"]

    accepted, rejected, duplicate = results
    assert accepted == {
        "idempotency_key": "b",
        "status": "accepted",
        "vendor_message_id": accepted["vendor_message_id"],
        "reason": None,
    }
    assert isinstance(accepted["vendor_message_id"], str)
    assert rejected == {
        "idempotency_key": "a",
        "status": "rejected",
        "vendor_message_id": None,
        "reason": "invalid_recipient",
    }
    assert duplicate == accepted | {"status": "duplicate"}


def test_duplicate_key_is_delivered_and_receipted_once(http, vendor, vendor_url, receiver):
    vendor.send_batch(receiver.url, [message("log-1")])

    again = vendor.send_batch(receiver.url, [message("log-1")])

    assert again == [VendorResult("log-1", accepted=True, reason=None)]
    eventually(lambda: stats(http, vendor_url)["receipts_pending"] == 0)
    assert receiver.receipts() == [
        {"communication_log_id": "log-1", "status": "SENT", "reason": None}
    ]
    deliveries = http.get(f"{vendor_url}/admin/deliveries/log-1", timeout=2).json()
    assert deliveries == {"idempotency_key": "log-1", "deliveries": 1, "submissions": 2}
    counters = stats(http, vendor_url)
    assert (counters["accepted"], counters["duplicates"]) == (1, 1)
    assert (counters["max_deliveries_per_key"], counters["max_submissions_per_key"]) == (1, 2)


def test_rejected_recipient_gets_no_receipt(http, vendor, vendor_url, receiver):
    results = vendor.send_batch(receiver.url, [message("log-1", to="  ")])

    assert results == [VendorResult("log-1", accepted=False, reason="invalid_recipient")]
    counters = stats(http, vendor_url)
    assert (counters["rejected"], counters["receipts_pending"]) == (1, 0)


def test_outcomes_follow_the_success_rate_and_replay_with_the_seed():
    def outcomes(seed: int) -> tuple[dict[str, str], int]:
        receiver = Receiver()
        with (
            serve(receiver) as receiver_url,
            running_vendor(vendor_success_rate=0.8, vendor_seed=seed) as url,
            VendorClient(url, timeout=5) as vendor,
        ):
            vendor.send_batch(f"{receiver_url}/r", [message(f"log-{i}") for i in range(1000)])
            receipts = receiver.wait_for(1000)
            largest_batch = max(len(batch) for batch in receiver.batches)
        return {r["communication_log_id"]: r["status"] for r in receipts}, largest_batch

    first, largest_batch = outcomes(seed=42)
    replayed, _ = outcomes(seed=42)

    assert len(first) == 1000
    assert 0.75 < list(first.values()).count("SENT") / 1000 < 0.85
    assert largest_batch <= dispatcher.BATCH_SIZE
    assert replayed == first


# Callbacks that fail


def test_failing_callback_is_retried_until_delivered(http):
    receiver = Receiver(statuses=(500, 503, 429))
    with (
        serve(receiver) as receiver_url,
        running_vendor(vendor_receipt_delay_ms=0) as url,
        VendorClient(url, timeout=2) as vendor,
    ):
        vendor.send_batch(receiver_url, [message("log-1"), message("log-2")])

        receipts = receiver.wait_for(2)
        eventually(lambda: stats(http, url)["receipts_pending"] == 0)
        assert stats(http, url)["receipts_sent"] == 2

    assert sorted(r["communication_log_id"] for r in receipts) == ["log-1", "log-2"]
    assert receiver.attempts >= 4


def test_callback_refusing_receipts_with_400_drops_them(http):
    receiver = Receiver(statuses=(400,))
    with (
        serve(receiver) as receiver_url,
        running_vendor(vendor_receipt_delay_ms=0) as url,
        VendorClient(url, timeout=2) as vendor,
    ):
        vendor.send_batch(receiver_url, [message("log-1")])

        eventually(lambda: stats(http, url)["receipts_pending"] == 0)
        assert stats(http, url)["receipts_sent"] == 0

    assert (receiver.attempts, receiver.batches) == (1, [])


# Bad requests


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("not json", 400),
        ({"messages": []}, 422),
        ({"callback_url": "not a url", "messages": []}, 422),
        ({"callback_url": "http://crm/r", "messages": [{"idempotency_key": "k", "to": "x"}]}, 422),
        ({"callback_url": "http://crm/r", "messages": [], "priority": "high"}, 422),
        ([], 422),
    ],
)
def test_malformed_batch_gets_the_error_body(http, vendor_url, body, code):
    if isinstance(body, str):
        headers = {"Content-Type": "application/json"}
        response = http.post(f"{vendor_url}/messages", data=body, headers=headers, timeout=2)
    else:
        response = http.post(f"{vendor_url}/messages", json=body, timeout=2)

    assert response.status_code == code
    assert response.json().keys() == {"code", "status", "message", "errors"}
    assert response.json()["code"] == code


def test_invalid_key_is_rejected_by_the_client(vendor, receiver):
    with pytest.raises(VendorRejected) as raised:
        vendor.send_batch(receiver.url, [message("k" * 65)])

    assert raised.value.status_code == 422


def test_batch_larger_than_the_maximum_is_rejected(receiver):
    with running_vendor(vendor_max_batch=3) as url, VendorClient(url, timeout=2) as vendor:
        assert len(vendor.send_batch(receiver.url, [message(f"k{i}") for i in range(3)])) == 3

        with pytest.raises(VendorRejected) as raised:
            vendor.send_batch(receiver.url, [message(f"k{i}") for i in range(4)])

    assert raised.value.status_code == 422


# Faults


def test_error_500_is_unavailable_for_the_given_number_of_requests(
    http, vendor, vendor_url, receiver
):
    set_fault(http, vendor_url, mode="error_500", requests=2)

    for _ in range(2):
        with pytest.raises(VendorUnavailable) as raised:
            vendor.send_batch(receiver.url, [message("log-1")])
        assert raised.value.retry_after is None

    assert vendor.send_batch(receiver.url, [message("log-1")])[0].accepted
    assert (stats(http, vendor_url)["requests"], stats(http, vendor_url)["accepted"]) == (3, 1)


def test_error_429_is_unavailable_with_retry_after(http, vendor, vendor_url, receiver):
    set_fault(http, vendor_url, mode="error_429", retry_after=7)

    with pytest.raises(VendorUnavailable) as raised:
        vendor.send_batch(receiver.url, [message("log-1")])

    assert raised.value.retry_after == 7.0


def test_fault_without_a_count_lasts_until_changed(http, vendor, vendor_url, receiver):
    set_fault(http, vendor_url, mode="error_500", requests=None)
    for _ in range(3):
        with pytest.raises(VendorUnavailable):
            vendor.send_batch(receiver.url, [message("log-1")])

    set_fault(http, vendor_url, mode="none")

    assert vendor.send_batch(receiver.url, [message("log-1")])[0].accepted


def test_timeout_is_unavailable_though_the_vendor_took_the_batch(http, vendor_url, receiver):
    # Given a vendor that answers after the client has given up
    set_fault(http, vendor_url, mode="timeout", requests=1, delay_seconds=0.5)
    with VendorClient(vendor_url, timeout=0.2) as vendor:
        with pytest.raises(VendorUnavailable):
            vendor.send_batch(receiver.url, [message("log-1")])

        # When the client sends the batch again
        results = vendor.send_batch(receiver.url, [message("log-1")])

    # Then the retry is a duplicate and the message goes out once
    assert results == [VendorResult("log-1", accepted=True, reason=None)]
    assert receiver.wait_for(1) == [
        {"communication_log_id": "log-1", "status": "SENT", "reason": None}
    ]
    deliveries = http.get(f"{vendor_url}/admin/deliveries/log-1", timeout=2).json()
    assert (deliveries["deliveries"], deliveries["submissions"]) == (1, 2)


def test_unreachable_vendor_is_unavailable():
    with (
        VendorClient(f"http://127.0.0.1:{free_port()}", timeout=1) as vendor,
        pytest.raises(VendorUnavailable),
    ):
        vendor.send_batch("http://127.0.0.1:1/r", [message("log-1")])


def test_unknown_fault_mode_is_422(http, vendor_url):
    response = http.post(f"{vendor_url}/admin/faults", json={"mode": "flaky"}, timeout=2)

    assert response.status_code == 422
    assert "mode" in response.json()["errors"]


# Admin


def test_reset_forgets_keys_counters_and_faults(http, vendor, vendor_url, receiver):
    vendor.send_batch(receiver.url, [message("log-1")])
    set_fault(http, vendor_url, mode="error_500")

    assert http.post(f"{vendor_url}/admin/reset", timeout=2).status_code == 204

    assert set(stats(http, vendor_url).values()) == {0}
    assert vendor.send_batch(receiver.url, [message("log-1")])[0].accepted


def test_health(http, vendor_url):
    assert http.get(f"{vendor_url}/health", timeout=2).json() == {"status": "ok"}
