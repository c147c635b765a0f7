"""The sweeps hand a chunk out again only when it is provably lost, and look silent
messages up at the vendor instead of guessing."""

from datetime import timedelta

import pytest
import requests

from crm.clock import utcnow
from crm.documents import (
    Campaign,
    CampaignStatus,
    ChunkState,
    CommunicationLog,
    MessageStatus,
    SendChunk,
)
from crm.queue import handles
from crm.services.sending import sweeps
from crm.vendor import OutboundMessage, VendorClient
from tests.helpers.factories import counted_log, sending_campaign
from tests.helpers.vendors import running_vendor
from workers import sending

LONG_AGO = utcnow() - timedelta(hours=2)
IDLE = timedelta(minutes=5)


@pytest.fixture
def campaign(app):
    return sending_campaign(started_at=LONG_AGO)


def chunk(campaign, state, **fields):
    log = counted_log(campaign, MessageStatus.PENDING, f"c{SendChunk.objects.count()}")
    fields = {"updated_at": LONG_AGO, **fields}
    return SendChunk(
        campaign_id=campaign.id,
        seq=SendChunk.objects(campaign_id=campaign.id).count(),
        log_ids=[log.id],
        state=state,
        **fields,
    ).save()


def test_an_expired_lease_goes_back_to_the_queue_as_ambiguous(campaign):
    expired = chunk(campaign, ChunkState.LEASED, lease_owner="w1", lease_until=LONG_AGO)
    held = chunk(campaign, ChunkState.LEASED, lease_owner="w2", lease_until=utcnow() + IDLE)
    queued = []

    assert sweeps.requeue_expired_leases(lambda *message: queued.append(message) or "m1") == 1

    expired.reload()
    assert expired.state == ChunkState.QUEUED and expired.ambiguous
    assert queued == [(str(expired.id), 0)] and expired.message_id == "m1"
    assert held.reload().state == ChunkState.LEASED


@pytest.mark.parametrize(
    ("status", "state"),
    [(CampaignStatus.PAUSED, ChunkState.PAUSED), (CampaignStatus.CANCELLED, ChunkState.CANCELLED)],
)
def test_an_expired_lease_of_a_stopped_campaign_waits_with_it(campaign, status, state):
    expired = chunk(campaign, ChunkState.LEASED, lease_owner="w1", lease_until=LONG_AGO)
    Campaign.objects(id=campaign.id).update(set__status=status)
    queued = []
    sweeps.requeue_expired_leases(lambda *message: queued.append(message))
    expired.reload()
    assert expired.state == state and expired.ambiguous and queued == []


def test_a_chunk_waiting_in_the_queue_is_never_lost_however_long_it_waits(campaign, broker):
    waiting = chunk(campaign, ChunkState.QUEUED)
    waiting.update(message_id=sending.enqueue_chunk(str(waiting.id)))  # no worker: it waits
    delayed = chunk(campaign, ChunkState.QUEUED)
    delayed.update(message_id=sending.enqueue_chunk(str(delayed.id), 60_000))
    lost = chunk(campaign, ChunkState.QUEUED, message_id="gone with Redis")
    never_queued = chunk(campaign, ChunkState.QUEUED)  # its materialiser died before queueing
    recent = chunk(campaign, ChunkState.QUEUED, message_id="being queued", updated_at=utcnow())
    before = {c.id: c.reload().message_id for c in (waiting, delayed, recent)}
    queued = []

    def enqueue(chunk_id, delay_ms):
        queued.append(chunk_id)
        return f"new message for {chunk_id}"

    assert sweeps.requeue_lost(IDLE, sending.in_queue, enqueue) == 2

    assert sorted(queued) == sorted([str(lost.id), str(never_queued.id)])
    assert lost.reload().message_id == f"new message for {lost.id}"
    assert {c.id: c.reload().message_id for c in (waiting, delayed, recent)} == before


def test_a_lost_materialisation_is_restarted_once(campaign, broker):
    Campaign.objects(id=campaign.id).update(
        set__materialized=False, set__heartbeat_at=LONG_AGO, set__materializer_message_id="gone"
    )
    restarted = []
    sweeps.restart_stalled(IDLE, sending.in_campaigns_queue, restarted.append)
    sweeps.restart_stalled(IDLE, sending.in_campaigns_queue, restarted.append)  # it beat
    assert restarted == [str(campaign.id)]


def test_a_materialisation_waiting_in_the_queue_is_never_restarted(campaign, broker):
    Campaign.objects(id=campaign.id).update(set__materialized=False)
    message_id = handles.enqueue_materialize(str(campaign.id))  # no worker: it waits
    Campaign.objects(id=campaign.id).update(set__heartbeat_at=LONG_AGO)
    restarted = []

    assert sweeps.restart_stalled(IDLE, sending.in_campaigns_queue, restarted.append) == 0

    assert restarted == [] and campaign.reload().materializer_message_id == message_id


def test_silent_messages_are_looked_up_at_the_vendor_before_failing(campaign):
    logs = [
        counted_log(campaign, MessageStatus.ACCEPTED, f"c{i}", updated_at=LONG_AGO)
        for i in range(3)
    ]
    recent = counted_log(campaign, MessageStatus.ACCEPTED, "recent")
    with running_vendor(success_rate=1.0, receipt_delay_ms=0) as vendor_url:
        vendor = VendorClient(vendor_url, 5)
        # The vendor delivered two of them; their receipts never reached the CRM.
        requests.post(f"{vendor_url}/admin/faults", json={"mode": "drop_receipts"}, timeout=5)
        outbound = [OutboundMessage(str(log.id), "a@b.co", "Hi") for log in logs[:2]]
        vendor.send_batch("http://127.0.0.1:9/receipts", outbound)

        sweeps.look_up_silent(timedelta(minutes=30), vendor)

    assert [CommunicationLog.objects.get(id=log.id).status for log in logs] == [
        MessageStatus.SENT,
        MessageStatus.SENT,
        MessageStatus.FAILED,
    ]
    assert CommunicationLog.objects.get(id=logs[2].id).reason == "receipt_timeout"
    assert CommunicationLog.objects.get(id=recent.id).status == MessageStatus.ACCEPTED
    campaign.reload()
    assert campaign.reconciliation == {"receipts_recovered": 2, "receipts_lost": 1}


def test_nothing_is_failed_while_the_vendor_cannot_be_asked(campaign):
    log = counted_log(campaign, MessageStatus.ACCEPTED, updated_at=LONG_AGO)
    with running_vendor() as vendor_url:
        requests.post(f"{vendor_url}/admin/faults", json={"mode": "error_500"}, timeout=5)
        sweeps.look_up_silent(timedelta(minutes=30), VendorClient(vendor_url, 5))
    assert CommunicationLog.objects.get(id=log.id).status == MessageStatus.ACCEPTED


def test_the_last_looked_up_message_completes_its_campaign(campaign):
    counted_log(campaign, MessageStatus.ACCEPTED, updated_at=LONG_AGO)
    with running_vendor() as vendor_url:
        sweeps.look_up_silent(timedelta(minutes=30), VendorClient(vendor_url, 5))
    assert Campaign.objects.get(id=campaign.id).status == CampaignStatus.COMPLETED
