from datetime import timedelta

import pytest

from crm.documents import Campaign, CampaignStatus, CommunicationLog, MessageStatus
from crm.clock import utcnow
from crm.services import sweeps
from tests.campaigns import sending_campaign

LONG_AGO = utcnow() - timedelta(hours=2)


@pytest.fixture
def campaign(app):
    return sending_campaign(started_at=LONG_AGO)


def log_entry(campaign, status, updated_at, customer_id="c1"):
    return CommunicationLog(
        campaign_id=campaign.id,
        customer_id=customer_id,
        to="a@b.co",
        message="Hi",
        status=status,
        updated_at=updated_at,
    ).save()


def test_accepted_message_without_receipt_fails_after_the_timeout(campaign):
    silent = log_entry(campaign, MessageStatus.ACCEPTED, LONG_AGO)
    recent = log_entry(campaign, MessageStatus.ACCEPTED, utcnow(), customer_id="c2")

    assert sweeps.fail_silent_messages(timedelta(hours=1)) == 1
    assert CommunicationLog.objects.get(id=silent.id).reason == "receipt_timeout"
    assert CommunicationLog.objects.get(id=recent.id).status == MessageStatus.ACCEPTED


def test_last_silent_message_completes_its_campaign(campaign):
    log_entry(campaign, MessageStatus.ACCEPTED, LONG_AGO)
    sweeps.fail_silent_messages(timedelta(hours=1))
    assert Campaign.objects.get(id=campaign.id).status == CampaignStatus.COMPLETED


def test_idle_pending_work_is_requeued_once(campaign):
    orphan = log_entry(campaign, MessageStatus.PENDING, LONG_AGO)
    log_entry(campaign, MessageStatus.PENDING, utcnow(), customer_id="c2")
    chunks, materialised = [], []

    def sweep():
        sweeps.resume_stalled(
            timedelta(minutes=5), 100, lambda c, ids: chunks.append((c, ids)), materialised.append
        )

    sweep()
    assert chunks == [(str(campaign.id), [[str(orphan.id), "a@b.co", "Hi"]])]
    sweep()  # the requeued log was touched, so it is not requeued again at once
    assert len(chunks) == 1
    assert materialised == []


def test_stalled_materialisation_is_restarted(campaign):
    Campaign.objects(id=campaign.id).update(set__materialized=False, set__heartbeat_at=LONG_AGO)
    materialised = []
    sweeps.resume_stalled(timedelta(minutes=5), 100, lambda *_: None, materialised.append)
    assert materialised == [str(campaign.id)]


def test_paused_campaigns_are_left_alone(campaign):
    Campaign.objects(id=campaign.id).update(set__status=CampaignStatus.PAUSED)
    log_entry(campaign, MessageStatus.PENDING, LONG_AGO)
    chunks = []
    sweeps.resume_stalled(timedelta(minutes=5), 100, lambda *a: chunks.append(a), chunks.append)
    assert chunks == []
