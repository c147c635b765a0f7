"""Pause, resume and cancel, against real worker threads and the vendor simulator."""

import time
from dataclasses import replace

import pytest
import requests
from bson import ObjectId

from crm.documents import CommunicationLog
from crm.queue import broker
from tests.helpers.factories import add_customers, new_campaign
from tests.helpers.http import assert_error
from tests.helpers.polling import eventually, wait_until_finished


def send(client, campaign_id):
    assert client.post("/api/sendCampaign", json={"campaign_id": campaign_id}).status_code == 202


def settle(client, campaign_id, seconds=1.5):
    time.sleep(seconds)
    return client.get(f"/api/campaign/{campaign_id}").json


def test_paused_campaign_sends_nothing_more_until_resumed(client, live, vendor):
    add_customers(client, 60)
    campaign_id = new_campaign(client)
    send(client, campaign_id)
    paused = client.post(f"/api/campaign/{campaign_id}/pause")
    assert paused.status_code == 200 and paused.json["status"] == "PAUSED"

    before = requests.get(f"{vendor}/admin/stats", timeout=5).json()["accepted"]
    settled = settle(client, campaign_id)
    after = requests.get(f"{vendor}/admin/stats", timeout=5).json()["accepted"]
    assert settled["status"] == "PAUSED"
    assert after - before <= 7 * 4  # at most the chunks already with the vendor when it paused
    assert after < 60

    assert client.post(f"/api/campaign/{campaign_id}/resume").json["status"] == "SENDING"
    campaign = wait_until_finished(client, campaign_id)
    assert campaign["stats"]["sent"] + campaign["stats"]["failed"] == 60
    vendor_stats = requests.get(f"{vendor}/admin/stats", timeout=5).json()
    assert vendor_stats["accepted"] == 60 and vendor_stats["max_deliveries_per_key"] == 1


def test_cancel_mid_send_stops_the_rest(client, live, vendor):
    add_customers(client, 60)
    campaign_id = new_campaign(client)
    send(client, campaign_id)
    cancelled = client.post(f"/api/campaign/{campaign_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json["status"] == "CANCELLED"

    campaign = settle(client, campaign_id, 3)
    stats = campaign["stats"]
    assert campaign["status"] == "CANCELLED"
    assert stats["pending"] == 0
    handed_over = requests.get(f"{vendor}/admin/stats", timeout=5).json()["accepted"]
    assert stats["sent"] + stats["failed"] + stats["accepted"] == handed_over
    assert stats["cancelled"] == stats["total"] - handed_over
    assert client.post(f"/api/campaign/{campaign_id}/resume").status_code == 409


def test_draft_can_be_cancelled_but_not_paused(client, live):
    campaign_id = new_campaign(client)
    assert client.post(f"/api/campaign/{campaign_id}/pause").status_code == 409
    assert client.post(f"/api/campaign/{campaign_id}/cancel").json["status"] == "CANCELLED"
    assert client.post("/api/sendCampaign", json={"campaign_id": campaign_id}).status_code == 409


def test_progress_reports_done_total_and_rate(client, live):
    add_customers(client, 10)
    campaign_id = new_campaign(client)
    send(client, campaign_id)
    campaign = wait_until_finished(client, campaign_id)
    progress = campaign["progress"]
    assert progress["done"] == progress["total"] == 10
    assert progress["rate_per_second"] > 0 and progress["eta_seconds"] == 0


@pytest.mark.parametrize("action", ["pause", "resume", "cancel"])
def test_controls_on_unknown_campaign_are_404(client, app, action):
    assert client.post(f"/api/campaign/{ObjectId()}/{action}").status_code == 404


def test_logs_can_be_filtered_by_status(client, live):
    add_customers(client, 4)
    campaign_id = new_campaign(client)
    send(client, campaign_id)
    wait_until_finished(client, campaign_id)
    sent = client.get(f"/api/campaign/{campaign_id}/logs?status=SENT").json
    assert {log["status"] for log in sent} <= {"SENT"}
    assert len(sent) == CommunicationLog.objects(campaign_id=campaign_id, status="SENT").count()


def test_resume_acts_only_on_a_paused_campaign(client, live, vendor):
    add_customers(client, 3)
    campaign_id = new_campaign(client)
    assert_error(client.post(f"/api/campaign/{campaign_id}/resume"), 409)
    campaign = client.get(f"/api/campaign/{campaign_id}").json
    assert campaign["status"] == "DRAFT" and campaign["stats"]["total"] == 0
    assert requests.get(f"{vendor}/admin/stats", timeout=5).json()["requests"] == 0


def test_cancel_while_a_batch_is_at_the_vendor_keeps_what_the_vendor_took(client, live, vendor):
    add_customers(client, 5)
    # The vendor takes the batch but answers after the client gave up: the CRM cannot know
    # whether it was taken while the campaign is cancelled.
    broker.setup(replace(broker.settings(), vendor_timeout_seconds=0.5))
    fault = {"mode": "timeout", "requests": 1, "delay_seconds": 1}
    requests.post(f"{vendor}/admin/faults", json=fault, timeout=5)
    campaign_id = new_campaign(client)
    send(client, campaign_id)
    eventually(lambda: requests.get(f"{vendor}/admin/stats", timeout=5).json()["requests"], 10)
    assert client.post(f"/api/campaign/{campaign_id}/cancel").status_code == 200

    # The chunk's next attempt asks the vendor, finds all five there, and cancels nothing.
    def settled():
        campaign = client.get(f"/api/campaign/{campaign_id}").json
        return campaign if campaign["stats"]["sent"] + campaign["stats"]["failed"] == 5 else None

    campaign = eventually(settled, 30, 0.2)
    assert campaign["status"] == "CANCELLED" and campaign["stats"]["cancelled"] == 0
    assert campaign["reconciliation"]["found_at_vendor"] == 5
    vendor_stats = requests.get(f"{vendor}/admin/stats", timeout=5).json()
    assert vendor_stats["deliveries"] == 5 and vendor_stats["receipts_sent"] == 5
