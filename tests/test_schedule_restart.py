"""A scheduled campaign survives its worker: stopped before the campaign's time and
started after it, a real worker process sends it once, from what MongoDB holds."""

import os
import signal
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from devstack.stack import start_worker
from tests.helpers.polling import eventually
from tests.helpers.stack import running_stack

pytestmark = pytest.mark.system

MEMBERS = 6


@pytest.fixture
def stack(settings, broker, api_key, tmp_path):
    variables = {
        "CRM_SWEEP_INTERVAL_SECONDS": "1",
        "CRM_VENDOR_RECEIPT_DELAY_MS": "20",
        "CRM_SEND_CHUNK_SIZE": "4",
    }
    with running_stack(settings, api_key, tmp_path, **variables) as running:
        eventually(lambda: "ready for action" in (tmp_path / "worker.log").read_text(), 60, 0.1)
        yield running


@pytest.mark.parametrize("how", ["killed, Redis emptied", "stopped"])
def test_a_campaign_scheduled_across_a_worker_restart_is_sent_once(stack, broker, how, tmp_path):
    api, url = stack.api, stack.url
    for i in range(MEMBERS):
        body = {"customer_id": f"c{i}", "name": f"N{i}", "email": f"c{i}@example.com"}
        assert api.post(f"{url}/api/customers", json=body, timeout=10).status_code == 201
    rules = {"logic": "AND", "rules": [{"field": "visit_count", "operator": ">=", "value": 0}]}
    audience = api.post(f"{url}/api/audience", json=rules, timeout=10).json()
    body = {"audience_id": audience["id"], "message": "Hi {{name}}"}
    campaign_id = api.post(f"{url}/api/campaign", json=body, timeout=10).json()["id"]
    send_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=6)

    # Given a campaign scheduled a few seconds ahead, and its workers (the sending one, and
    # the importer, whose sweeper could fire it too) gone before then
    body = {"campaign_id": campaign_id, "schedule": {"send_at": send_at.isoformat()}}
    sent = api.post(f"{url}/api/sendCampaign", json=body, timeout=10)
    assert sent.json()["status"] == "SCHEDULED", sent.text
    for worker in (stack.processes["worker"], stack.processes["importer"]):
        if how == "stopped":
            worker.terminate()  # Dramatiq puts back the delayed message it held
        else:
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(30)
    if how != "stopped":
        broker.client.flushdb()  # and the queue message that would have fired it is lost
    time.sleep(max(0.0, (send_at - datetime.now(UTC)).total_seconds()) + 0.5)
    campaign = api.get(f"{url}/api/campaign/{campaign_id}", timeout=10).json()
    assert campaign["status"] == "SCHEDULED"  # nothing fired it meanwhile

    # When a worker starts after its time
    stack.processes["worker"] = start_worker(stack.env, tmp_path / "worker.log")

    # Then it is sent once, a little late, and says so
    def completed():
        campaign = api.get(f"{url}/api/campaign/{campaign_id}", timeout=10).json()
        return campaign if campaign["status"] == "COMPLETED" else None

    campaign = eventually(completed, 60, 0.2)
    assert campaign["stats"]["sent"] + campaign["stats"]["failed"] == MEMBERS
    fired_at = datetime.fromisoformat(campaign["schedule"]["fired_at"])
    assert fired_at >= send_at
    assert 0 < campaign["schedule"]["late_seconds"] < 60
    assert campaign["schedule"]["missed"] is None  # within the grace
    vendor = requests.get(f"{stack.vendor}/admin/stats", timeout=5).json()
    assert vendor["accepted"] == MEMBERS and vendor["max_deliveries_per_key"] == 1
