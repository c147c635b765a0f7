"""Waiting for something that happens in another thread or process."""

import time


def eventually(condition, timeout=5.0, interval=0.01, describe=None):
    """Wait until ``condition()`` is true; returns its value. On timeout the failure
    says ``describe()`` when given."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() >= deadline:
            raise AssertionError(describe() if describe else "condition not met in time")
        time.sleep(interval)
    return value


def wait_until_finished(client, campaign_id, timeout=60):
    """The campaign once COMPLETED, read through the test client."""
    return eventually(lambda: _completed(client, campaign_id), timeout, 0.2)


def _completed(client, campaign_id):
    campaign = client.get(f"/api/campaign/{campaign_id}").json
    return campaign if campaign["status"] == "COMPLETED" else None
