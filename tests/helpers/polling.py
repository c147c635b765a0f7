"""Waiting for something that happens in another thread or process."""

import time


def eventually(condition, timeout=5.0, interval=0.01):
    """Wait until ``condition()`` is true; returns its value."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(interval)
    return value


def wait_until_finished(client, campaign_id, timeout=60):
    """The campaign once COMPLETED, read through the test client."""
    return eventually(lambda: _completed(client, campaign_id), timeout, 0.2)


def _completed(client, campaign_id):
    campaign = client.get(f"/api/campaign/{campaign_id}").json
    return campaign if campaign["status"] == "COMPLETED" else None
