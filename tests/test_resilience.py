"""A campaign finishes, reaching each member once, whatever crashes mid-send.

Real processes throughout: gunicorn API, Dramatiq worker and vendor simulator, with the
sweeps running every second so orphaned work is picked up quickly.
"""

import os
import signal
import time

import pymongo
import pytest
import requests

from devstack import embedded
from devstack.stack import start_services, start_worker

CUSTOMERS = 600


@pytest.fixture
def redis_port():
    return embedded.free_port()


@pytest.fixture
def redis_server(redis_port, tmp_path):
    process = embedded.start_redis(redis_port, tmp_path / "redis", tmp_path / "redis.log", False)
    yield process
    embedded.stop([process])


@pytest.fixture
def stack(settings, redis_port, redis_server, api_key, tmp_path):
    api_port, vendor_port = embedded.free_port(), embedded.free_port()
    env = {
        **os.environ,
        "CRM_MONGODB_URI": settings.mongodb_uri,
        "CRM_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "CRM_PUBLIC_URL": f"http://127.0.0.1:{api_port}",
        "CRM_VENDOR_URL": f"http://127.0.0.1:{vendor_port}",
        "CRM_SEND_CHUNK_SIZE": "20",
        "CRM_VENDOR_RECEIPT_DELAY_MS": "50",
        "CRM_SWEEP_INTERVAL_SECONDS": "1",
        "CRM_ORPHAN_AFTER_SECONDS": "3",
        # Receipts queued in a Redis that restarts empty are lost with it; the sweep fails
        # their messages after this long.
        "CRM_RECEIPT_TIMEOUT_SECONDS": "10",
    }
    processes = start_services(env, api_port, vendor_port, log_dir=tmp_path)
    database = pymongo.MongoClient(settings.mongodb_uri).get_database()
    yield {
        "api": f"http://127.0.0.1:{api_port}",
        "vendor": f"http://127.0.0.1:{vendor_port}",
        "processes": processes,
        "env": env,
        "db": database,
        "logs": tmp_path,
        "auth": {"Authorization": f"Bearer {api_key}"},
    }
    embedded.stop(list(processes.values()))
    database.client.drop_database(database.name)
    database.client.close()


def start_campaign(stack):
    stack["db"].customers.insert_many(
        {"customer_id": f"c{i:04}", "name": f"N{i}", "email": f"c{i}@example.com", "visit_count": 1}
        for i in range(CUSTOMERS)
    )
    rules = {"logic": "AND", "rules": [{"field": "visit_count", "operator": ">=", "value": 0}]}
    audience = requests.post(
        f"{stack['api']}/api/audience", json=rules, headers=stack["auth"], timeout=30
    ).json()
    body = {"audience_id": audience["id"], "message": "Hi {{name}}"}
    campaign = requests.post(
        f"{stack['api']}/api/campaign", json=body, headers=stack["auth"], timeout=30
    ).json()
    sent = requests.post(
        f"{stack['api']}/api/sendCampaign",
        json={"campaign_id": campaign["id"]},
        headers=stack["auth"],
        timeout=30,
    )
    assert sent.status_code == 202
    return campaign["id"]


def progress(stack, campaign_id):
    url = f"{stack['api']}/api/campaign/{campaign_id}"
    return requests.get(url, headers=stack["auth"], timeout=30).json()


def wait_for(stack, campaign_id, condition, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        campaign = progress(stack, campaign_id)
        if condition(campaign):
            return campaign
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting: {campaign['status']} {campaign['stats']}")


def settled(campaign):
    return campaign["status"] == "COMPLETED" and campaign["counts_exact"]


def assert_each_member_reached_once(stack, campaign_id):
    # A crash can leave a move uncertain to count; the sweep then recounts the finished campaign.
    campaign = wait_for(stack, campaign_id, settled, 120)
    stats = campaign["stats"]
    assert stats["total"] == stats["sent"] + stats["failed"] == CUSTOMERS
    recount = requests.post(
        f"{stack['api']}/api/campaign/{campaign_id}/recount", headers=stack["auth"], timeout=30
    ).json()
    assert recount["consistent"] and recount["counted"]["SENT"] == stats["sent"]
    logs = stack["db"].communication_logs
    assert len(logs.distinct("customer_id")) == logs.count_documents({}) == CUSTOMERS
    vendor = requests.get(f"{stack['vendor']}/admin/stats", timeout=10).json()
    assert vendor["accepted"] == CUSTOMERS
    assert vendor["max_deliveries_per_key"] == 1
    return vendor


def test_worker_killed_mid_campaign_loses_nothing_and_sends_nothing_twice(stack):
    campaign_id = start_campaign(stack)
    in_flight = wait_for(stack, campaign_id, lambda c: c["stats"]["total"] > 0, 60)
    assert in_flight["status"] == "SENDING"

    # SIGKILL: no clean shutdown, messages in the worker's hands are simply gone.
    os.killpg(stack["processes"]["worker"].pid, signal.SIGKILL)
    stack["processes"]["worker"].wait()
    stack["processes"]["worker"] = start_worker(stack["env"], stack["logs"] / "worker2.log")

    assert_each_member_reached_once(stack, campaign_id)


def test_redis_restart_mid_campaign_still_completes(stack, redis_server, redis_port):
    campaign_id = start_campaign(stack)
    in_flight = wait_for(stack, campaign_id, lambda c: c["stats"]["total"] > 0, 60)
    assert in_flight["status"] == "SENDING"

    # The queue server dies and comes back empty (no persistence).
    redis_server.kill()
    redis_server.wait()
    restarted = embedded.start_redis(
        redis_port, stack["logs"] / "redis2", stack["logs"] / "redis2.log", False
    )
    try:
        assert_each_member_reached_once(stack, campaign_id)
    finally:
        embedded.stop([restarted])
