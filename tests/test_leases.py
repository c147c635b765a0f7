"""A lease is renewed while its worker sends, so a short lease never costs a live worker
its chunk, however long the vendor takes to answer."""

import time
from dataclasses import replace

import dramatiq
import pytest
import requests

from crm.queue import broker as worker_broker
from devstack.embedded import serve
from tests.helpers.factories import add_customers, new_campaign
from tests.helpers.vendors import set_fault, stats
from workers import heartbeat

LEASE_SECONDS = 1
VENDOR_ANSWERS_AFTER_SECONDS = 3


@pytest.fixture
def short_leases(app, settings, vendor, broker):
    """The API on a real port and worker threads whose leases last a second."""
    with serve(app) as api_url:
        worker_broker.setup(
            replace(
                settings,
                vendor_url=vendor,
                public_url=api_url,
                send_chunk_size=5,
                send_lease_seconds=LEASE_SECONDS,
            )
        )
        worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
        worker.start()
        yield
        worker.stop()


def test_a_live_worker_keeps_its_chunk_however_long_the_vendor_takes(client, short_leases, vendor):
    # Given leases of 1 s and a vendor that answers its first requests only after 3 s
    http = requests.Session()
    add_customers(client, 10)
    set_fault(http, vendor, mode="timeout", requests=2, delay_seconds=VENDOR_ANSWERS_AFTER_SECONDS)
    campaign_id = new_campaign(client)
    client.post("/api/sendCampaign", json={"campaign_id": campaign_id})

    # When the recovery of expired leases runs all along
    handed_out_again = 0
    deadline = time.monotonic() + 60
    while client.get(f"/api/campaign/{campaign_id}").json["status"] != "COMPLETED":
        assert time.monotonic() < deadline, "the campaign did not complete"
        handed_out_again += heartbeat.recover()["lease_expired"]
        time.sleep(0.1)

    # Then no chunk was handed out again, nothing looked up, each message delivered once
    assert handed_out_again == 0
    vendor_stats = stats(http, vendor)
    assert vendor_stats["requests"] == 2 and vendor_stats["lookups"] == 0
    assert vendor_stats["deliveries"] == 10 and vendor_stats["max_deliveries_per_key"] == 1
