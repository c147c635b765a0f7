"""Receipts move a log forward only: duplicates, late and out-of-order receipts change nothing."""

import dramatiq
import pytest
from bson import ObjectId

from crm.documents import Campaign, CampaignStatus, CommunicationLog, MessageStatus
from tests.helpers import factories
from tests.helpers.http import assert_error
from tests.helpers.signing import post_signed


@pytest.fixture
def sending_campaign(app):
    return factories.sending_campaign()


def new_log(campaign, status=MessageStatus.ACCEPTED, customer_id="c1"):
    return factories.counted_log(campaign, status, customer_id)


def receipt(client, log_id, status="SENT", **extra):
    body = {"communication_log_id": str(log_id), "status": status, **extra}
    return post_signed(client, "/api/sendCampaign/deliveryReceipt", body)


def test_seed_receipt_marks_the_log_and_completes_the_campaign(client, sending_campaign):
    log = new_log(sending_campaign)
    response = receipt(client, log.id)
    assert response.status_code == 200
    assert response.json == {"communication_log_id": str(log.id), "status": "SENT", "applied": True}
    assert Campaign.objects.get(id=sending_campaign.id).status == CampaignStatus.COMPLETED


def test_campaign_waits_for_its_last_receipt(client, sending_campaign):
    first, second = new_log(sending_campaign), new_log(sending_campaign, customer_id="c2")
    receipt(client, first.id)
    assert Campaign.objects.get(id=sending_campaign.id).status == CampaignStatus.SENDING
    receipt(client, second.id, "FAILED", reason="undeliverable")
    assert Campaign.objects.get(id=sending_campaign.id).status == CampaignStatus.COMPLETED
    assert CommunicationLog.objects.get(id=second.id).reason == "undeliverable"


@pytest.mark.parametrize(
    ("first", "second"), [("SENT", "SENT"), ("SENT", "FAILED"), ("FAILED", "SENT")]
)
def test_final_status_is_final(client, sending_campaign, first, second):
    log = new_log(sending_campaign)
    receipt(client, log.id, first)
    again = receipt(client, log.id, second)
    assert again.status_code == 200
    assert again.json["applied"] is False
    assert again.json["status"] == first


def test_receipt_overtaking_the_vendor_answer_still_applies(client, sending_campaign):
    log = new_log(sending_campaign, status=MessageStatus.PENDING)
    assert receipt(client, log.id).json["status"] == "SENT"


def test_unknown_log_is_404(client, sending_campaign):
    assert_error(receipt(client, ObjectId()), 404)


@pytest.mark.parametrize("status", ["DELIVERED", "sent", "PENDING", "ACCEPTED", "", None, 1])
def test_invalid_status_is_422(client, sending_campaign, status):
    log = new_log(sending_campaign)
    assert_error(receipt(client, log.id, status), 422, "json", "status")
    assert CommunicationLog.objects.get(id=log.id).status == MessageStatus.ACCEPTED


def test_batch_is_queued_then_applied_forward_only(client, sending_campaign, broker, caplog):
    done = new_log(sending_campaign, MessageStatus.SENT)
    open_ = new_log(sending_campaign, customer_id="c2")
    stranger = ObjectId()
    batch = [
        {"communication_log_id": str(done.id), "status": "FAILED"},
        {"communication_log_id": str(open_.id), "status": "SENT"},
        {"communication_log_id": str(open_.id), "status": "SENT"},
        {"communication_log_id": str(stranger), "status": "SENT"},
    ]
    response = post_signed(client, "/api/sendCampaign/deliveryReceipts", {"receipts": batch})
    assert response.status_code == 202
    assert response.json == {"queued": 4}

    worker = dramatiq.Worker(broker, worker_threads=1)
    worker.start()
    broker.join("receipts", timeout=10_000)
    worker.join()
    worker.stop()
    assert CommunicationLog.objects.get(id=done.id).status == MessageStatus.SENT
    assert CommunicationLog.objects.get(id=open_.id).status == MessageStatus.SENT
    assert Campaign.objects.get(id=sending_campaign.id).status == CampaignStatus.COMPLETED
    assert f"receipts for unknown logs ignored: {stranger}" in caplog.text


def test_batch_with_one_bad_receipt_applies_none(client, sending_campaign):
    log = new_log(sending_campaign)
    batch = [
        {"communication_log_id": str(log.id), "status": "SENT"},
        {"communication_log_id": "nope", "status": "SENT"},
    ]
    response = post_signed(client, "/api/sendCampaign/deliveryReceipts", {"receipts": batch})
    assert "1" in assert_error(response, 422)["json"]["receipts"]
    assert CommunicationLog.objects.get(id=log.id).status == MessageStatus.ACCEPTED
