"""A campaign's kept counts follow every move of its logs, and a recount proves it."""

import time
from collections import Counter
from datetime import timedelta

import dramatiq
import pytest
from bson import ObjectId

from crm.documents import Audience, Campaign, CampaignStatus, CommunicationLog, MessageStatus
from crm.services import campaigns, counters, lifecycle, materialize, receipts, sweeps
from crm.services.lifecycle import Move
from tests.campaigns import EVERYONE, add_customers, eventually, sending_campaign
from tests.signing import post_signed

SENT, FAILED = MessageStatus.SENT, MessageStatus.FAILED


@pytest.fixture
def campaign(app):
    return sending_campaign()


def counted_log(campaign, status, customer_id):
    """A log created as materialisation creates them: counted in the campaign's counts."""
    log = CommunicationLog(
        campaign_id=campaign.id, customer_id=customer_id, to="a@b.co", message="Hi", status=status
    ).save()
    counters.add({campaign.id: Counter({str(status): 1})})
    return log


def receipt(log, status, reason=None):
    return {"communication_log_id": log.id, "status": str(status), "reason": reason}


def apply(batch):
    return receipts.apply(batch, hold_early=False)


def kept(campaign):
    campaign.reload()
    return {status: n for status, n in campaign.counts.items() if n}


def test_duplicate_late_and_overtaking_receipts_are_counted_once(campaign):
    accepted = [counted_log(campaign, MessageStatus.ACCEPTED, f"a{i}") for i in range(3)]
    pending = counted_log(campaign, MessageStatus.PENDING, "p")

    apply([receipt(accepted[0], SENT), receipt(accepted[0], FAILED)])
    apply([receipt(accepted[0], SENT), receipt(accepted[1], FAILED, "bounced")])
    apply([receipt(pending, SENT)])  # overtook the vendor's own answer
    apply([receipt(accepted[1], SENT), receipt(accepted[2], SENT)])

    assert kept(campaign) == {"SENT": 3, "FAILED": 1}
    assert campaign.counts_exact and campaign.status == CampaignStatus.COMPLETED
    assert counters.recount(campaign.id, repair=False)["consistent"]


def test_a_receipt_that_overtook_the_vendor_answer_waits_for_it(campaign, client, broker):
    log = counted_log(campaign, MessageStatus.PENDING, "c1")
    body = {"receipts": [{"communication_log_id": str(log.id), "status": "SENT"}]}
    assert post_signed(client, "/api/sendCampaign/deliveryReceipts", body).status_code == 202
    worker = dramatiq.Worker(broker, queues={"receipts"}, worker_threads=2)
    worker.start()
    try:
        time.sleep(0.5)  # applied, found early, held for a second
        assert CommunicationLog.objects.get(id=log.id).status == MessageStatus.PENDING
        accept = Move(campaign.id, MessageStatus.PENDING, MessageStatus.ACCEPTED)
        lifecycle.move_messages({accept: [log.id]})
        eventually(lambda: CommunicationLog.objects.get(id=log.id).status == MessageStatus.SENT, 15)
    finally:
        worker.stop()
    assert kept(campaign) == {"SENT": 1} and campaign.counts_exact


def test_a_move_someone_else_made_first_marks_the_counts_inexact(campaign):
    log = counted_log(campaign, MessageStatus.PENDING, "c1")
    apply([receipt(log, SENT)])
    # The vendor's answer for the same message, applied after its receipt: nothing moves.
    accept = Move(campaign.id, MessageStatus.PENDING, MessageStatus.ACCEPTED)
    assert lifecycle.move_messages({accept: [log.id]}) == 0

    # Only what this move did is counted (nothing), but it cannot know that an earlier
    # attempt of its own did not move the log before stopping short of counting it.
    assert kept(campaign) == {"SENT": 1} and not campaign.counts_exact
    assert campaign.status == CampaignStatus.COMPLETED

    sweeps.settle_counts(timedelta(0))
    assert kept(campaign) == {"SENT": 1} and campaign.counts_exact


def test_a_partly_matched_move_counts_the_logs_it_moved(campaign):
    logs = [counted_log(campaign, MessageStatus.PENDING, f"c{i}") for i in range(3)]
    apply([receipt(logs[0], SENT)])
    accept = Move(campaign.id, MessageStatus.PENDING, MessageStatus.ACCEPTED)
    assert lifecycle.move_messages({accept: [log.id for log in logs]}) == 2
    assert kept(campaign) == {"SENT": 1, "ACCEPTED": 2}
    assert counters.recount(campaign.id, repair=False)["consistent"]


def test_a_campaign_still_sending_is_compared_but_not_repaired(campaign, client):
    counted_log(campaign, MessageStatus.ACCEPTED, "c1")
    CommunicationLog(
        campaign_id=campaign.id, customer_id="stray", to="a@b.co", message="Hi"
    ).save()  # a log nothing counted

    response = client.post(f"/api/campaign/{campaign.id}/recount?repair=true")
    assert response.status_code == 200
    assert response.json == {
        "kept": {"ACCEPTED": 1},
        "counted": {"ACCEPTED": 1, "PENDING": 1},
        "consistent": False,
        "repaired": False,
    }


def test_recount_of_an_unknown_campaign_is_404(client):
    response = client.post(f"/api/campaign/{ObjectId()}/recount")
    assert response.status_code == 404
    assert set(response.json) == {"code", "status", "message", "errors"}


def test_materialising_counts_each_member_once_even_when_repeated(app, client):
    add_customers(client, 12)
    audience = Audience(rules=EVERYONE).save()
    campaign = Campaign(audience_id=audience.id, message="Hi {{name}}").save()
    campaigns.start(campaign.id)
    chunks = []

    materialize.materialize(campaign.id, 5, chunks.append)
    # As if the worker had died after inserting every log but before saving its position.
    Campaign.objects(id=campaign.id).update(
        unset__cursor=True, set__materialized=False, set__counts={}
    )
    materialize.materialize(campaign.id, 5, chunks.append)

    assert kept(campaign) == {"PENDING": 12}
    assert [len(chunk) for chunk in chunks] == [5, 5, 2, 5, 5, 2]
    assert chunks[0][0][2] == "Hi Name0"


def test_cancel_counts_what_it_cancelled(campaign):
    counted_log(campaign, MessageStatus.PENDING, "c1")
    counted_log(campaign, MessageStatus.ACCEPTED, "c2")
    campaigns.cancel(campaign.id)
    assert kept(campaign) == {"CANCELLED": 1, "ACCEPTED": 1}
    assert counters.recount(campaign.id, repair=False)["consistent"]


def test_the_sweep_completes_a_campaign_whose_counts_missed_a_move(campaign):
    log = counted_log(campaign, MessageStatus.ACCEPTED, "c1")
    # As if a worker died after moving the log but before counting the move.
    CommunicationLog.objects(id=log.id).update(set__status=MessageStatus.SENT)
    receipts.apply([receipt(log, SENT)], hold_early=False)  # the redelivered receipt
    assert Campaign.objects.get(id=campaign.id).status == CampaignStatus.SENDING

    sweeps.settle_counts(timedelta(hours=1))
    campaign.reload()
    assert campaign.status == CampaignStatus.COMPLETED and not campaign.counts_exact
    sweeps.settle_counts(timedelta(0))
    assert kept(campaign) == {"SENT": 1} and campaign.counts_exact


def test_recount_with_a_bad_repair_flag_is_422_and_changes_nothing(campaign, client):
    counted_log(campaign, MessageStatus.SENT, "c1")
    campaigns.cancel(campaign.id)
    response = client.post(f"/api/campaign/{campaign.id}/recount?repair=maybe")
    assert response.status_code == 422
    assert set(response.json) == {"code", "status", "message", "errors"}
    assert "repair" in response.json["errors"]["query"]
    assert kept(campaign) == {"SENT": 1}
