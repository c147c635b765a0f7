"""The CRM's vendor client against the simulator over HTTP: answers, lookups, and whether a
failure leaves it unsure that the vendor took the request."""

import socket
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate

import pytest
from werkzeug.wrappers import Request, Response

from crm.vendor import (
    LookupResult,
    VendorClient,
    VendorRejected,
    VendorResult,
    VendorUnavailable,
)
from devstack.embedded import free_port, serve
from tests.helpers.vendors import (
    deliveries,
    message,
    running_vendor,
    set_fault,
    stats,
)


@pytest.fixture
def vendor(vendor_url: str) -> Iterator[VendorClient]:
    with VendorClient(vendor_url, timeout=2) as client:
        yield client


# Answers


def test_duplicate_counts_as_accepted(receiver):
    with running_vendor(deduplicate=True) as url, VendorClient(url, timeout=2) as vendor:
        vendor.send_batch(receiver.url, [message("log-1")])

        assert vendor.send_batch(receiver.url, [message("log-1"), message("log-2", to="")]) == [
            VendorResult("log-1", accepted=True, reason=None),
            VendorResult("log-2", accepted=False, reason="invalid_recipient"),
        ]


def test_invalid_key_is_rejected(vendor, receiver):
    with pytest.raises(VendorRejected) as raised:
        vendor.send_batch(receiver.url, [message("k" * 65)])

    assert raised.value.status_code == 422


def test_batch_larger_than_the_maximum_is_rejected(receiver):
    with running_vendor(max_batch=3) as url, VendorClient(url, timeout=2) as vendor:
        assert len(vendor.send_batch(receiver.url, [message(f"k{i}") for i in range(3)])) == 3

        with pytest.raises(VendorRejected) as raised:
            vendor.send_batch(receiver.url, [message(f"k{i}") for i in range(4)])

    assert raised.value.status_code == 422


# Lookup


def test_lookup_reports_each_key_in_order_in_batches_of_a_thousand(
    http, vendor, vendor_url, receiver
):
    vendor.send_batch(receiver.url, [message("k1500"), message("k3")])
    receiver.wait_for(2)
    keys = [f"k{i}" for i in range(2500)]

    results = vendor.lookup(keys)

    assert [result.idempotency_key for result in results] == keys
    assert results[3] == LookupResult("k3", known=True, final_status="SENT", reason=None)
    assert results[1500] == LookupResult("k1500", known=True, final_status="SENT", reason=None)
    assert results[4] == LookupResult("k4", known=False, final_status=None, reason=None)
    assert sum(result.known for result in results) == 2
    assert stats(http, vendor_url)["lookups"] == 3


def test_lookup_of_no_keys_asks_nothing(http, vendor, vendor_url):
    assert vendor.lookup([]) == []
    assert stats(http, vendor_url)["lookups"] == 0


def test_lookup_while_the_vendor_is_down_is_unavailable(http, vendor, vendor_url):
    set_fault(http, vendor_url, mode="error_500", requests=1)

    with pytest.raises(VendorUnavailable):
        vendor.lookup(["k1"])

    assert vendor.lookup(["k1"]) == [LookupResult("k1", False, None, None)]


# Unavailable, and whether the vendor may have taken the request


def test_error_500_is_ambiguous(http, vendor, vendor_url, receiver):
    set_fault(http, vendor_url, mode="error_500", requests=1)

    with pytest.raises(VendorUnavailable) as raised:
        vendor.send_batch(receiver.url, [message("log-1")])

    assert (raised.value.ambiguous, raised.value.retry_after) == (True, None)


def test_error_429_is_not_ambiguous_and_says_when_to_retry(http, vendor, vendor_url, receiver):
    set_fault(http, vendor_url, mode="error_429", retry_after=7)

    with pytest.raises(VendorUnavailable) as raised:
        vendor.send_batch(receiver.url, [message("log-1")])

    assert (raised.value.ambiguous, raised.value.retry_after) == (False, 7.0)


def test_retry_after_as_an_http_date_is_read():
    in_30_seconds = formatdate(time.time() + 30, usegmt=True)

    @Request.application
    def overloaded(request: Request) -> Response:
        return Response(status=429, headers={"Retry-After": in_30_seconds})

    with (
        serve(overloaded) as url,
        VendorClient(url, timeout=2) as vendor,
        pytest.raises(VendorUnavailable) as raised,
    ):
        vendor.send_batch("http://127.0.0.1:1/r", [message("log-1")])

    assert raised.value.retry_after is not None
    assert 25 < raised.value.retry_after <= 30


def test_read_timeout_after_the_vendor_took_the_batch_is_ambiguous(http, vendor_url, receiver):
    # Given a vendor that takes the batch but answers after the client has given up
    set_fault(http, vendor_url, mode="timeout", requests=1, delay_seconds=0.5)
    with VendorClient(vendor_url, timeout=0.2) as vendor:
        with pytest.raises(VendorUnavailable) as raised:
            vendor.send_batch(receiver.url, [message("log-1")])

        # When the client sends the batch again
        vendor.send_batch(receiver.url, [message("log-1")])

    # Then the outcome was ambiguous, and the message went out twice
    assert raised.value.ambiguous
    assert len(receiver.wait_for(2)) == 2
    assert deliveries(http, vendor_url, "log-1")["deliveries"] == 2


def test_read_timeout_of_a_hung_vendor_is_ambiguous(http, vendor_url, receiver):
    set_fault(http, vendor_url, mode="hang", requests=1, delay_seconds=0.5)

    with (
        VendorClient(vendor_url, timeout=0.2) as vendor,
        pytest.raises(VendorUnavailable) as raised,
    ):
        vendor.send_batch(receiver.url, [message("log-1")])

    # It took nothing, but the client cannot know that.
    assert raised.value.ambiguous
    assert stats(http, vendor_url)["messages"] == 0


def test_refused_connection_is_not_ambiguous():
    with (
        VendorClient(f"http://127.0.0.1:{free_port()}", timeout=1) as vendor,
        pytest.raises(VendorUnavailable) as raised,
    ):
        vendor.send_batch("http://127.0.0.1:1/r", [message("log-1")])

    assert raised.value.ambiguous is False


def test_connection_closed_after_sending_is_ambiguous():
    listener = socket.create_server(("127.0.0.1", 0))

    def read_then_hang_up() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)

    reader = threading.Thread(target=read_then_hang_up)
    reader.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        with VendorClient(url, timeout=2) as vendor, pytest.raises(VendorUnavailable) as raised:
            vendor.send_batch("http://127.0.0.1:1/r", [message("log-1")])
    finally:
        reader.join()
        listener.close()

    assert raised.value.ambiguous


def test_unreadable_answer_is_ambiguous():
    @Request.application
    def garbled(request: Request) -> Response:
        return Response("<html>gateway</html>", status=200)

    with (
        serve(garbled) as url,
        VendorClient(url, timeout=2) as vendor,
        pytest.raises(VendorUnavailable) as raised,
    ):
        vendor.send_batch("http://127.0.0.1:1/r", [message("log-1")])

    assert raised.value.ambiguous
