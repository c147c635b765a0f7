"""The vendor simulator over real sockets: what it answers, delivers, counts and reports.

Each test serves a fresh simulator on a free port, and a receiver standing in for the
CRM's receipt endpoint. The simulator does not de-duplicate unless told to.
"""

import time
from collections.abc import Iterator
from dataclasses import asdict

import pytest

from crm import signatures
from crm.vendor import VendorClient, VendorResult
from devstack.embedded import serve
from tests.helpers.http import assert_error
from tests.helpers.polling import eventually
from tests.helpers.vendors import (
    Receiver,
    deliveries,
    lookup,
    message,
    running_vendor,
    set_fault,
    stats,
)
from vendor_simulator import config, dispatcher


@pytest.fixture
def vendor(vendor_url: str) -> Iterator[VendorClient]:
    with VendorClient(vendor_url, timeout=2) as client:
        yield client


def sent(key: str) -> dict:
    return {"communication_log_id": key, "status": "SENT", "reason": None}


# Settings


def test_settings_come_from_the_stack_variables():
    environ = {
        "CRM_VENDOR_SUCCESS_RATE": "0.5",
        "CRM_VENDOR_SEED": "3",
        "CRM_VENDOR_RECEIPT_DELAY_MS": "40",
        "CRM_VENDOR_RECEIPT_LINGER_MS": "5",
        "CRM_VENDOR_MAX_BATCH": "10",
        "CRM_RECEIPT_SIGNING_SECRET": "s3cret",
        "CRM_VENDOR_DEDUPLICATE": "true",
    }

    assert config.load(environ, max_batch=20) == config.Settings(
        success_rate=0.5,
        seed=3,
        receipt_delay_ms=40,
        receipt_linger_ms=5,
        max_batch=20,
        signing_secret="s3cret",
        deduplicate=True,
    )
    assert config.load({}).deduplicate is False


# Answers and receipts


def test_accepted_message_gets_a_receipt(vendor, receiver):
    assert vendor.send_batch(receiver.url, [message("log-1")]) == [
        VendorResult("log-1", accepted=True, reason=None)
    ]

    assert receiver.wait_for(1) == [sent("log-1")]


def test_failed_outcome_carries_a_reason(receiver):
    with running_vendor(success_rate=0.0) as url, VendorClient(url, timeout=2) as vendor:
        vendor.send_batch(receiver.url, [message("log-1")])

        assert receiver.wait_for(1) == [
            {"communication_log_id": "log-1", "status": "FAILED", "reason": "undeliverable"}
        ]


def test_receipts_are_signed_as_the_crm_verifies(receiver):
    with running_vendor(signing_secret="s3cret") as url, VendorClient(url, timeout=2) as vendor:
        vendor.send_batch(receiver.url, [message("log-1")])
        receiver.wait_for(1)

    [(body, timestamp, signature)] = receiver.signed
    assert signatures.verify("s3cret", body, timestamp, signature) is None
    assert signatures.verify("other", body, timestamp, signature) == "bad signature"


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

    first, rejected, again = results
    assert first == {
        "idempotency_key": "b",
        "status": "accepted",
        "vendor_message_id": first["vendor_message_id"],
        "reason": None,
    }
    assert isinstance(first["vendor_message_id"], str)
    assert rejected == {
        "idempotency_key": "a",
        "status": "rejected",
        "vendor_message_id": None,
        "reason": "invalid_recipient",
    }
    # Without de-duplication the repeat is a second message of its own.
    assert again == first | {"vendor_message_id": again["vendor_message_id"]}
    assert again["vendor_message_id"] != first["vendor_message_id"]


def test_repeated_key_is_delivered_again_without_deduplication(http, vendor, vendor_url, receiver):
    vendor.send_batch(receiver.url, [message("log-1"), message("log-2")])

    again = vendor.send_batch(receiver.url, [message("log-1")])

    assert again == [VendorResult("log-1", accepted=True, reason=None)]
    assert sorted(r["communication_log_id"] for r in receiver.wait_for(3)) == [
        "log-1",
        "log-1",
        "log-2",
    ]
    assert deliveries(http, vendor_url, "log-1") == {
        "idempotency_key": "log-1",
        "deliveries": 2,
        "submissions": 2,
    }
    assert deliveries(http, vendor_url, "log-2")["deliveries"] == 1
    assert deliveries(http, vendor_url, "never-sent")["deliveries"] == 0
    counters = stats(http, vendor_url)
    assert (counters["accepted"], counters["duplicates"], counters["deliveries"]) == (3, 0, 3)
    assert (counters["max_deliveries_per_key"], counters["keys_delivered_more_than_once"]) == (2, 1)
    assert counters["largest_batch"] == 2


def test_repeated_key_is_delivered_once_with_deduplication(http, receiver):
    with running_vendor(deduplicate=True) as url, VendorClient(url, timeout=2) as vendor:
        first = http.post(
            f"{url}/messages",
            json={"callback_url": receiver.url, "messages": [asdict(message("log-1"))]},
            timeout=2,
        ).json()["results"][0]
        again = vendor.send_batch(receiver.url, [message("log-1")])

        assert again == [VendorResult("log-1", accepted=True, reason=None)]
        eventually(lambda: stats(http, url)["receipts_sent"] == 1)
        eventually(lambda: stats(http, url)["receipts_pending"] == 0)
        assert receiver.receipts() == [sent("log-1")]
        assert deliveries(http, url, "log-1") == {
            "idempotency_key": "log-1",
            "deliveries": 1,
            "submissions": 2,
        }
        counters = stats(http, url)
        assert (counters["accepted"], counters["duplicates"], counters["deliveries"]) == (1, 1, 1)
        assert (counters["max_deliveries_per_key"], counters["max_submissions_per_key"]) == (1, 2)
        assert counters["keys_delivered_more_than_once"] == 0
        # The duplicate is answered with the message the vendor already has.
        repeat = http.post(
            f"{url}/messages",
            json={"callback_url": receiver.url, "messages": [asdict(message("log-1"))]},
            timeout=2,
        ).json()["results"][0]
        assert repeat == first | {"status": "duplicate"}


def test_rejected_recipient_gets_no_receipt(http, vendor, vendor_url, receiver):
    results = vendor.send_batch(receiver.url, [message("log-1", to="  ")])

    assert results == [VendorResult("log-1", accepted=False, reason="invalid_recipient")]
    counters = stats(http, vendor_url)
    assert (counters["rejected"], counters["deliveries"], counters["receipts_pending"]) == (1, 0, 0)
    assert lookup(http, vendor_url, ["log-1"])[0]["status"] == "unknown"


def test_outcomes_follow_the_success_rate_and_replay_with_the_seed():
    def outcomes(seed: int) -> tuple[dict[str, str], int]:
        receiver = Receiver()
        with (
            serve(receiver) as receiver_url,
            running_vendor(success_rate=0.8, seed=seed) as url,
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
        running_vendor(receipt_delay_ms=0) as url,
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
        running_vendor(receipt_delay_ms=0) as url,
        VendorClient(url, timeout=2) as vendor,
    ):
        vendor.send_batch(receiver_url, [message("log-1")])

        eventually(lambda: stats(http, url)["receipts_pending"] == 0)
        assert stats(http, url)["receipts_sent"] == 0

    assert (receiver.attempts, receiver.batches) == (1, [])


# Reconciliation lookup


def test_lookup_answers_in_request_order(http, vendor, vendor_url, receiver):
    vendor.send_batch(receiver.url, [message("a"), message("b")])
    receiver.wait_for(2)

    results = lookup(http, vendor_url, ["b", "nope", "a"])

    assert results == [
        {"idempotency_key": "b", "status": "accepted", "final_status": "SENT", "reason": None},
        {"idempotency_key": "nope", "status": "unknown", "final_status": None, "reason": None},
        {"idempotency_key": "a", "status": "accepted", "final_status": "SENT", "reason": None},
    ]
    assert (stats(http, vendor_url)["lookups"], stats(http, vendor_url)["requests"]) == (1, 1)


def test_lookup_knows_no_outcome_before_it_is_due(http, receiver):
    with (
        running_vendor(receipt_delay_ms=60_000, seed=1) as url,
        VendorClient(url, timeout=2) as vendor,
    ):
        vendor.send_batch(receiver.url, [message("log-1")])

        assert lookup(http, url, ["log-1"]) == [
            {"idempotency_key": "log-1", "status": "accepted", "final_status": None, "reason": None}
        ]
        assert receiver.attempts == 0


def test_lookup_reports_a_failure_and_its_reason_once_due(http, receiver):
    with running_vendor(success_rate=0.0) as url, VendorClient(url, timeout=2) as vendor:
        vendor.send_batch(receiver.url, [message("log-1")])
        receiver.wait_for(1)

        assert lookup(http, url, ["log-1"]) == [
            {
                "idempotency_key": "log-1",
                "status": "accepted",
                "final_status": "FAILED",
                "reason": "undeliverable",
            }
        ]


@pytest.mark.parametrize(
    "body",
    [
        {"idempotency_keys": []},
        {"idempotency_keys": [f"k{i}" for i in range(1001)]},
        {"idempotency_keys": [""]},
        {"idempotency_keys": ["k" * 65]},
        {"idempotency_keys": "k1"},
        {"idempotency_keys": ["k1"], "status": "SENT"},
        {},
        [],
    ],
)
def test_malformed_lookup_is_422(http, vendor_url, body):
    response = http.post(f"{vendor_url}/messages/lookup", json=body, timeout=2)

    assert_error(response, 422)


def test_lookup_of_a_thousand_keys_is_answered(http, vendor_url):
    keys = [f"k{i}" for i in range(1000)]

    assert [r["idempotency_key"] for r in lookup(http, vendor_url, keys)] == keys


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

    assert_error(response, code)


# Faults


def test_error_500_lasts_the_given_number_of_requests(http, vendor, vendor_url, receiver):
    set_fault(http, vendor_url, mode="error_500", requests=2)

    for _ in range(2):
        assert http.post(f"{vendor_url}/messages", json={}, timeout=2).status_code == 500

    assert vendor.send_batch(receiver.url, [message("log-1")])[0].accepted
    assert (stats(http, vendor_url)["requests"], stats(http, vendor_url)["accepted"]) == (3, 1)


def test_fault_without_a_count_lasts_until_changed(http, vendor_url):
    set_fault(http, vendor_url, mode="error_500", requests=None)
    for _ in range(3):
        assert http.post(f"{vendor_url}/messages", json={}, timeout=2).status_code == 500

    set_fault(http, vendor_url, mode="none")

    assert http.post(f"{vendor_url}/messages", json={}, timeout=2).status_code == 422


def test_fault_for_some_seconds_expires(http, vendor_url):
    started = time.monotonic()  # before the fault, which starts when the vendor sets it
    set_fault(http, vendor_url, mode="error_429", seconds=0.3, retry_after=0)

    for _ in range(3):
        assert http.post(f"{vendor_url}/messages", json={}, timeout=2).status_code == 429
    eventually(lambda: http.post(f"{vendor_url}/messages", json={}, timeout=2).status_code == 422)

    assert time.monotonic() - started >= 0.3


def test_timeout_takes_the_batch_and_answers_late(http, vendor_url, receiver):
    set_fault(http, vendor_url, mode="timeout", requests=1, delay_seconds=0.3)
    body = {"callback_url": receiver.url, "messages": [asdict(message("log-1"))]}
    started = time.monotonic()

    response = http.post(f"{vendor_url}/messages", json=body, timeout=2)

    assert time.monotonic() - started >= 0.3
    assert response.json()["results"][0]["status"] == "accepted"
    assert receiver.wait_for(1) == [sent("log-1")]


def test_hang_answers_503_late_and_takes_nothing(http, vendor_url, receiver):
    set_fault(http, vendor_url, mode="hang", requests=1, delay_seconds=0.3)
    body = {"callback_url": receiver.url, "messages": [asdict(message("log-1"))]}
    started = time.monotonic()

    response = http.post(f"{vendor_url}/messages", json=body, timeout=2)

    assert time.monotonic() - started >= 0.3
    assert response.status_code == 503
    counters = stats(http, vendor_url)
    assert (counters["requests"], counters["messages"], counters["deliveries"]) == (1, 0, 0)
    assert lookup(http, vendor_url, ["log-1"])[0]["status"] == "unknown"


def test_dropped_receipts_are_never_posted_but_lookup_knows(http, vendor, vendor_url, receiver):
    # Given a network that loses the callbacks of one request
    set_fault(http, vendor_url, mode="drop_receipts", requests=1)
    assert vendor.send_batch(receiver.url, [message("lost")])[0].accepted
    eventually(lambda: lookup(http, vendor_url, ["lost"])[0]["final_status"] == "SENT")

    # When a later message's receipt, due after the lost one, arrives
    vendor.send_batch(receiver.url, [message("kept")])

    # Then it came alone: the lost one was delivered but never posted
    assert receiver.wait_for(1) == [sent("kept")]
    eventually(lambda: stats(http, vendor_url)["receipts_pending"] == 0)
    assert receiver.receipts() == [sent("kept")]
    counters = stats(http, vendor_url)
    assert (counters["deliveries"], counters["receipts_sent"], counters["receipts_lost"]) == (
        2,
        1,
        1,
    )


@pytest.mark.parametrize(
    ("mode", "status"),
    [("error_500", 500), ("error_429", 429), ("timeout", 200), ("drop_receipts", 200)],
)
def test_lookup_meets_only_faults_of_a_vendor_that_is_down(http, vendor_url, mode, status):
    set_fault(http, vendor_url, mode=mode, delay_seconds=5)
    started = time.monotonic()

    response = http.post(
        f"{vendor_url}/messages/lookup", json={"idempotency_keys": ["k"]}, timeout=2
    )

    assert response.status_code == status
    assert time.monotonic() - started < 1


def test_unknown_fault_mode_is_422(http, vendor_url):
    response = http.post(f"{vendor_url}/admin/faults", json={"mode": "flaky"}, timeout=2)

    assert "mode" in assert_error(response, 422)


# Admin


def test_reset_forgets_keys_counters_and_faults(http, vendor, vendor_url, receiver):
    vendor.send_batch(receiver.url, [message("log-1")])
    lookup(http, vendor_url, ["log-1"])
    set_fault(http, vendor_url, mode="error_500")

    assert http.post(f"{vendor_url}/admin/reset", timeout=2).status_code == 204

    assert set(stats(http, vendor_url).values()) == {0}
    assert lookup(http, vendor_url, ["log-1"])[0]["status"] == "unknown"
    assert vendor.send_batch(receiver.url, [message("log-1")])[0].accepted


def test_health(http, vendor_url):
    assert http.get(f"{vendor_url}/health", timeout=2).json() == {"status": "ok"}
