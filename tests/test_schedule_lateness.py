"""A member materialised ahead of its local send time is never sent later than its
campaign allows: a worker outage past the limit makes it SKIPPED, not late."""

import time as clock
from dataclasses import replace
from datetime import timedelta

import pytest
import requests

from crm.clock import utcnow
from crm.documents import Campaign, CommunicationLog, SendChunk
from crm.services.sending import materialize
from tests.helpers.factories import new_campaign
from tests.helpers.polling import eventually
from workers import sending

LATE_LIMIT = timedelta(seconds=1)


@pytest.fixture
def settings(settings):
    return replace(settings, schedule_max_late_seconds=LATE_LIMIT.total_seconds())


def test_members_queued_before_an_outage_past_the_late_limit_are_skipped_not_sent(
    client, vendor, request
):
    # Given members of a campaign due at the next minute in their zone, materialised
    # while no worker runs (their chunks never reach the queue)
    for i in range(3):
        body = {"customer_id": f"m{i}", "name": f"M{i}", "email": f"m{i}@example.com"}
        assert client.post("/api/customers", json=body).status_code == 201
    due = (utcnow() + timedelta(minutes=1)).replace(second=0, microsecond=0)
    campaign_id = new_campaign(client)
    local = {"send_date": due.date().isoformat(), "local_send_time": due.strftime("%H:%M")}
    body = {"campaign_id": campaign_id, "schedule": {"timezone": "UTC", **local}}
    started = client.post("/api/sendCampaign", json=body)
    assert started.status_code == 202 and started.json["status"] == "SENDING", started.json
    materialize.materialize(Campaign.objects.get(id=campaign_id).id, 100, lambda *_: "lost", 30)
    chunks = list(SendChunk.objects(campaign_id=campaign_id))
    assert chunks and all(chunk.not_before == due for chunk in chunks)

    # When the workers come back only after the limit has passed
    while utcnow() <= due + LATE_LIMIT:
        clock.sleep(0.2)
    request.getfixturevalue("live")
    for chunk in chunks:
        sending.enqueue_chunk(str(chunk.id))

    # Then no member is sent anything; each is SKIPPED, saying why
    def settled():
        logs = list(CommunicationLog.objects(campaign_id=campaign_id))
        return logs if all(log.status != "PENDING" for log in logs) else None

    logs = eventually(settled, timeout=20, interval=0.1)
    assert {(log.status, log.reason) for log in logs} == {("SKIPPED", "local_time_passed")}
    assert len(logs) == 3
    assert requests.get(f"{vendor}/admin/stats", timeout=5).json()["deliveries"] == 0
