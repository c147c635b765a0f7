"""A campaign's counts change in the same transaction as the logs they count: never negative,
always adding up, and equal to a recount after every path a log can take."""

import threading
import time

import dramatiq
import pytest
from bson import ObjectId

from crm.documents import (
    Campaign,
    CampaignStatus,
    ChunkState,
    CommunicationLog,
    MessageStatus,
    SendChunk,
)
from crm.services import campaigns
from crm.services.sending import control, materialize, receipts
from crm.services.sending.moves import Move, record
from tests.helpers.factories import add_customers, counted_log, new_campaign, sending_campaign
from tests.helpers.http import assert_error
from tests.helpers.polling import eventually
from tests.helpers.signing import post_signed

PENDING, ACCEPTED, SENT, FAILED = (
    MessageStatus.PENDING,
    MessageStatus.ACCEPTED,
    MessageStatus.SENT,
    MessageStatus.FAILED,
)


@pytest.fixture
def campaign(app):
    return sending_campaign()


def receipt(log, status, reason=None):
    return {"communication_log_id": log.id, "status": str(status), "reason": reason}


def kept(campaign):
    campaign.reload()
    return {status: n for status, n in campaign.counts.items() if n}


def consistent(campaign_id):
    return campaigns.recount(campaign_id, repair=False)["consistent"]


def test_duplicate_late_and_overtaking_receipts_are_counted_once(campaign):
    accepted = [counted_log(campaign, ACCEPTED, f"a{i}") for i in range(3)]
    pending = counted_log(campaign, PENDING, "p")

    receipts.apply([receipt(accepted[0], SENT), receipt(accepted[0], FAILED)], False)
    receipts.apply([receipt(accepted[0], SENT), receipt(accepted[1], FAILED, "bounced")], False)
    receipts.apply([receipt(pending, SENT)], False)  # overtook the vendor's own answer
    assert Campaign.objects.get(id=campaign.id).status == CampaignStatus.SENDING
    receipts.apply([receipt(accepted[1], SENT), receipt(accepted[2], SENT)], False)

    assert kept(campaign) == {"SENT": 3, "FAILED": 1}
    assert campaign.status == CampaignStatus.COMPLETED and consistent(campaign.id)


def test_a_receipt_that_overtook_the_vendor_answer_waits_for_it(campaign, client, broker):
    log = counted_log(campaign, PENDING)
    body = {"receipts": [{"communication_log_id": str(log.id), "status": "SENT"}]}
    assert post_signed(client, "/api/sendCampaign/deliveryReceipts", body).status_code == 202
    worker = dramatiq.Worker(broker, queues={"receipts"}, worker_threads=2)
    worker.start()
    try:
        time.sleep(0.5)  # applied, found early, held for a second
        assert CommunicationLog.objects.get(id=log.id).status == PENDING
        record({Move(campaign.id, PENDING, ACCEPTED): [log.id]})
        eventually(lambda: CommunicationLog.objects.get(id=log.id).status == SENT, 15)
    finally:
        worker.stop()
    assert kept(campaign) == {"SENT": 1}


def test_a_move_counts_only_the_logs_it_moved(campaign):
    logs = [counted_log(campaign, PENDING, f"c{i}") for i in range(3)]
    receipts.apply([receipt(logs[0], SENT)], False)
    accept = Move(campaign.id, PENDING, ACCEPTED)
    assert record({accept: [log.id for log in logs]}) == 2
    assert kept(campaign) == {"SENT": 1, "ACCEPTED": 2} and consistent(campaign.id)


def test_counts_are_never_negative_and_always_add_up_while_moves_race(campaign):
    logs = [counted_log(campaign, PENDING, f"c{i:03}") for i in range(120)]
    ids = [log.id for log in logs]
    samples, stop = [], threading.Event()

    def sample():
        while not stop.is_set():
            samples.append(dict(Campaign.objects.get(id=campaign.id).counts))

    def deliver():  # the vendor's answers, a batch at a time
        for start in range(0, len(ids), 10):
            record({Move(campaign.id, PENDING, ACCEPTED): ids[start : start + 10]})

    def receive():  # receipts, racing the answers they follow
        while not stop.is_set():
            batch = [{"communication_log_id": i, "status": "SENT"} for i in ids]
            receipts.apply(batch, hold_early=True)

    threads = [threading.Thread(target=f) for f in (sample, deliver, receive, receive)]
    for thread in threads:
        thread.start()
    threads[1].join()
    eventually(lambda: Campaign.objects.get(id=campaign.id).status == CampaignStatus.COMPLETED, 30)
    stop.set()
    for thread in threads:
        thread.join()

    assert len(samples) > 10
    assert all(n >= 0 for counts in samples for n in counts.values()), samples
    assert all(sum(counts.values()) == 120 for counts in samples)
    assert kept(campaign) == {"SENT": 120} and consistent(campaign.id)


def test_materialising_makes_one_log_and_one_chunk_slot_per_member(client, app):
    add_customers(client, 12)
    campaign_id = ObjectId(new_campaign(client, "Hi {{name}}"))
    control.start(campaign_id, lambda _: None)
    handed = []

    # A time budget of zero: one page per call, each call carrying on from the last.
    while materialize.materialize(campaign_id, 5, lambda *chunk: handed.append(chunk), 0):
        pass

    campaign = Campaign.objects.get(id=campaign_id)
    assert kept(campaign) == {"PENDING": 12} and campaign.materialized
    chunks = SendChunk.objects(campaign_id=campaign_id).order_by("seq")
    assert [len(chunk.log_ids) for chunk in chunks] == [5, 5, 2]
    assert [str(chunk.id) for chunk in chunks] == [chunk_id for chunk_id, _ in handed]
    in_chunks = [log_id for chunk in chunks for log_id in chunk.log_ids]
    logs = CommunicationLog.objects(campaign_id=campaign_id)
    assert sorted(in_chunks) == sorted(log.id for log in logs)
    assert logs.get(customer_id="c000").message == "Hi Name0"
    # Once materialised, a repeated call changes nothing.
    assert not materialize.materialize(campaign_id, 5, lambda *chunk: handed.append(chunk), 0)
    assert CommunicationLog.objects(campaign_id=campaign_id).count() == 12


def test_a_second_materialiser_on_the_same_campaign_adds_nothing(client, app):
    add_customers(client, 30)
    campaign_id = ObjectId(new_campaign(client))
    control.start(campaign_id, lambda _: None)
    runs = [
        threading.Thread(target=materialize.materialize, args=(campaign_id, 4, lambda *_: None, 60))
        for _ in range(3)
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    while materialize.materialize(campaign_id, 4, lambda *_: None, 60):
        pass
    assert CommunicationLog.objects(campaign_id=campaign_id).count() == 30
    assert kept(Campaign.objects.get(id=campaign_id)) == {"PENDING": 30}
    assert sum(len(c.log_ids) for c in SendChunk.objects(campaign_id=campaign_id)) == 30


def test_cancel_cancels_only_what_never_left(campaign):
    waiting = counted_log(campaign, PENDING, "c1")
    accepted = counted_log(campaign, ACCEPTED, "c2")
    SendChunk(campaign_id=campaign.id, seq=0, log_ids=[waiting.id, accepted.id]).save()
    control.cancel(campaign.id, lambda _: None)
    assert kept(campaign) == {"PENDING": 1, "ACCEPTED": 1}  # the rest is done in the background

    control.cancel_messages(campaign.id, vendor=None)
    assert kept(campaign) == {"CANCELLED": 1, "ACCEPTED": 1} and consistent(campaign.id)
    assert SendChunk.objects.get(campaign_id=campaign.id).state == ChunkState.DONE


def test_a_campaign_still_sending_is_compared_but_not_repaired(campaign, client):
    counted_log(campaign, ACCEPTED, "c1")
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
    assert_error(client.post(f"/api/campaign/{ObjectId()}/recount"), 404)


def test_recount_with_a_bad_repair_flag_is_422_and_changes_nothing(campaign, client):
    counted_log(campaign, SENT, "c1")
    response = client.post(f"/api/campaign/{campaign.id}/recount?repair=maybe")
    assert_error(response, 422, "query", "repair")
    assert kept(campaign) == {"SENT": 1}
