"""Sending a campaign through a real Redis queue, Dramatiq worker threads, the vendor
simulator over HTTP, and receipts posted back to the API over HTTP."""

from dataclasses import replace

import requests

from crm.documents import CommunicationLog
from crm.queue import broker
from tests.helpers.factories import add_customers, new_campaign
from tests.helpers.polling import wait_until_finished


def test_campaign_reaches_every_member_once_with_their_own_message(client, live, vendor):
    add_customers(client, 30)
    campaign_id = new_campaign(client)

    response = client.post("/api/sendCampaign", json={"campaign_id": campaign_id})
    assert response.status_code == 202
    campaign = wait_until_finished(client, campaign_id)

    stats = campaign["stats"]
    assert campaign["audience_size"] == stats["total"] == 30
    assert stats["sent"] + stats["failed"] == 30 and stats["pending"] == stats["accepted"] == 0
    assert stats["failed"] < 10
    recount = client.post(f"/api/campaign/{campaign_id}/recount").json
    assert recount["consistent"]
    assert recount["counted"] == {"SENT": stats["sent"], "FAILED": stats["failed"]}
    logs = CommunicationLog.objects(campaign_id=campaign_id)
    assert sorted(log.customer_id for log in logs) == [f"c{i:03}" for i in range(30)]
    assert logs.get(customer_id="c007").message == "Hi Name7, here's 10% off on your next order!"
    vendor_stats = requests.get(f"{vendor}/admin/stats", timeout=5).json()
    assert vendor_stats["deliveries"] == 30 and vendor_stats["max_deliveries_per_key"] == 1


def test_campaign_list_shows_counts_newest_first(client, live):
    add_customers(client, 3)
    first, second = new_campaign(client), new_campaign(client)
    client.post("/api/sendCampaign", json={"campaign_id": first})
    wait_until_finished(client, first)

    listed = client.get("/api/campaign").json
    assert [c["id"] for c in listed] == [second, first]
    assert listed[0]["status"] == "DRAFT" and listed[0]["stats"]["total"] == 0
    assert listed[1]["stats"]["sent"] + listed[1]["stats"]["failed"] == 3


def test_vendor_outage_is_retried_until_it_recovers(client, live, vendor):
    add_customers(client, 10)
    requests.post(f"{vendor}/admin/faults", json={"mode": "error_500", "requests": 2}, timeout=5)
    campaign_id = new_campaign(client)
    client.post("/api/sendCampaign", json={"campaign_id": campaign_id})
    campaign = wait_until_finished(client, campaign_id)
    assert campaign["stats"]["sent"] + campaign["stats"]["failed"] == 10
    assert not CommunicationLog.objects(campaign_id=campaign_id, reason="vendor_unavailable")


def test_vendor_down_past_the_outage_budget_fails_messages_with_a_reason(client, live, vendor):
    broker.setup(replace(broker.settings(), vendor_outage_budget_seconds=2))
    add_customers(client, 3)
    fault = {"mode": "error_429", "requests": None, "retry_after": 0}
    requests.post(f"{vendor}/admin/faults", json=fault, timeout=5)
    campaign_id = new_campaign(client)
    client.post("/api/sendCampaign", json={"campaign_id": campaign_id})
    campaign = wait_until_finished(client, campaign_id)
    assert campaign["stats"]["failed"] == 3
    reasons = set(CommunicationLog.objects(campaign_id=campaign_id).distinct("reason"))
    assert reasons == {"vendor_unavailable"}


def test_campaign_is_sent_only_once(client, live):
    add_customers(client, 2)
    campaign_id = new_campaign(client)
    assert client.post("/api/sendCampaign", json={"campaign_id": campaign_id}).status_code == 202
    again = client.post("/api/sendCampaign", json={"campaign_id": campaign_id})
    assert again.status_code == 409
    wait_until_finished(client, campaign_id)
    assert CommunicationLog.objects(campaign_id=campaign_id).count() == 2


def test_vendor_timeouts_are_retried_without_double_sending(client, live, vendor, monkeypatch):
    broker.setup(replace(broker.settings(), vendor_timeout_seconds=0.3))
    add_customers(client, 5)
    fault = {"mode": "timeout", "requests": 1, "delay_seconds": 1}
    requests.post(f"{vendor}/admin/faults", json=fault, timeout=5)
    campaign_id = new_campaign(client)
    client.post("/api/sendCampaign", json={"campaign_id": campaign_id})
    campaign = wait_until_finished(client, campaign_id)
    assert campaign["stats"]["sent"] + campaign["stats"]["failed"] == 5
    # The timed-out batch had reached the vendor, which does not de-duplicate: the retry
    # asked it first, found every message there and sent nobody anything twice.
    vendor_stats = requests.get(f"{vendor}/admin/stats", timeout=5).json()
    assert vendor_stats["deliveries"] == 5 and vendor_stats["max_deliveries_per_key"] == 1
    assert vendor_stats["lookups"] == 1
    assert campaign["reconciliation"] == {"ambiguous_requests": 1, "found_at_vendor": 5}
    assert not CommunicationLog.objects(campaign_id=campaign_id, reason="vendor_unavailable")
