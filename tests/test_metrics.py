"""GET /metrics, scraped over HTTP and parsed as Prometheus does: the figures move with
real requests, real campaigns and real queue messages."""

import json
import logging
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from crm import metrics
from devstack import embedded
from devstack.embedded import serve
from tests.helpers.factories import add_customers, new_campaign
from tests.helpers.http import assert_error
from tests.helpers.polling import eventually, wait_until_finished
from workers import sending

ROUTE = "/api/customers/{customer_id}"
TOKEN = "scrape-t0ken"
KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


@pytest.fixture(autouse=True)
def scraped_with_a_token(app, settings):
    app.config["CRM_SETTINGS"] = replace(settings, metrics_token=TOKEN)


def scrape(url, **headers):
    headers = {"Authorization": f"Bearer {TOKEN}", **headers}
    response = requests.get(f"{url}/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_requests_are_counted_by_route_template_never_by_raw_path(live, api_key):
    auth = {"Authorization": f"Bearer {api_key}"}
    before = scrape(live)
    for i in range(3):
        assert requests.get(f"{live}/api/customers/nobody{i}", headers=auth).status_code == 404
    after = scrape(live)

    for samples in (before, after):
        labels = {v for _, pairs in samples for _, v in pairs}
        assert not any("nobody" in label for label in labels)
    counted = {"method": "GET", "route": ROUTE, "status": "404"}
    assert (
        value(after, "crm_http_requests_total", **counted)
        - value(before, "crm_http_requests_total", **counted)
        == 3
    )
    timed = {"method": "GET", "route": ROUTE}
    name = "crm_http_request_duration_seconds_count"
    assert value(after, name, **timed) - value(before, name, **timed) == 3


def test_a_campaign_moves_domain_worker_and_receipt_figures(client, live, vendor):
    # Given a vendor that fails its first two requests, and ten customers
    add_customers(client, 10)
    requests.post(f"{vendor}/admin/faults", json={"mode": "error_500", "requests": 2}, timeout=5)
    before = scrape(live)

    # When a campaign is sent to them
    campaign_id = new_campaign(client)
    client.post("/api/sendCampaign", json={"campaign_id": campaign_id})
    wait_until_finished(client, campaign_id)

    # Then the domain's, the workers' and the receipts' figures say so
    eventually(lambda: value(scrape(live), "crm_receipts_applied_total") == 10)
    after = scrape(live)
    done = value(after, "crm_messages", status="SENT") + value(
        after, "crm_messages", status="FAILED"
    )
    assert done == 10
    assert value(after, "crm_campaigns", status="COMPLETED") == 1
    assert value(after, "crm_campaigns", status="DRAFT") == 0

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    deliveries = moved("crm_worker_messages_processed_total", actor="deliver_chunk")
    # Two chunks of 7 and 3, and two attempts that met the outage: each handed its chunk
    # on to a new queue message, so none is a retried or failed message.
    assert deliveries == 2 + 2
    assert moved("crm_worker_messages_retried_total", actor="deliver_chunk") == 0
    assert moved("crm_worker_messages_failed_total", actor="deliver_chunk") == 0
    duration = "crm_worker_message_duration_seconds_count"
    assert moved(duration, actor="deliver_chunk") == deliveries
    assert moved("crm_worker_messages_processed_total", actor="apply_receipts") >= 1
    assert value(after, "crm_metrics_source_up", source="mongodb") == 1


def test_queue_depths_count_ready_and_delayed_messages(app, broker):
    actor = sending.materialize_campaign
    with serve(app) as url:
        before = scrape(url)
        actor.send("0" * 24)
        actor.send("0" * 24)
        actor.send_with_options(args=("0" * 24,), delay=60_000)
        after = scrape(url)
    for state, added in (("ready", 2), ("delayed", 1), ("dead", 0)):
        labels = {"queue": "campaigns", "state": state}
        assert value(after, "crm_queue_messages", **labels) == added
        assert value(before, "crm_queue_messages", **labels) == 0


def test_a_configured_token_guards_metrics(app):
    with serve(app) as url:
        refused = requests.get(f"{url}/metrics", timeout=5)
        wrong = requests.get(f"{url}/metrics", headers={"Authorization": "Bearer no"}, timeout=5)
        assert_error(refused, 401)
        assert_error(wrong, 401)
        assert scrape(url)


def test_metrics_are_closed_unless_a_token_is_set_or_they_are_opened(app, settings):
    with serve(app) as url:
        app.config["CRM_SETTINGS"] = settings
        closed = requests.get(f"{url}/metrics", timeout=5)
        assert_error(closed, 403)
        assert "CRM_METRICS_TOKEN" in closed.json()["message"]
        assert "crm_" not in closed.text
        app.config["CRM_SETTINGS"] = replace(settings, metrics_open=True)
        assert scrape(url, Authorization="")


def test_any_http_method_is_one_of_a_few_labels(live, api_key):
    auth = {"Authorization": f"Bearer {api_key}"}
    before = scrape(live)
    methods = [f"X{i}RANDOM" for i in range(40)]
    for method in methods:
        requests.request(method, f"{live}/api/customers", headers=auth, timeout=5)
        requests.request(method, f"{live}/nowhere/{method}", timeout=5)
    after = scrape(live)

    labels = {dict(pairs)["method"] for _, pairs in after if "method" in dict(pairs)}
    assert labels <= KNOWN_METHODS | {"other"}
    other = [
        value(after, name, **dict(pairs)) - value(before, name, **dict(pairs))
        for name, pairs in after
        if name == "crm_http_requests_total" and dict(pairs)["method"] == "other"
    ]
    assert sum(other) == 2 * len(methods)


def test_recording_never_raises_when_redis_is_down(monkeypatch, caplog):
    import redis

    dead = redis.Redis(port=embedded.free_port(), socket_connect_timeout=0.5)
    monkeypatch.setattr(metrics, "_client", dead)
    with caplog.at_level(logging.WARNING, logger="crm.metrics"):
        metrics.count("receipts_applied", 3)
        metrics.observe("worker_message_duration_seconds", 0.2, actor="deliver_chunk")
    assert len(caplog.records) == 2


@pytest.mark.system
def test_gunicorn_workers_add_up_and_log_json(settings, api_key, tmp_path):
    """Two gunicorn worker processes: whichever serves a scrape counts both's requests."""
    port = embedded.free_port()
    env = {**os.environ, "CRM_MONGODB_URI": settings.mongodb_uri, "CRM_LOG_FORMAT": "json"}
    env["CRM_METRICS_TOKEN"] = TOKEN
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    command = [gunicorn, "-w", "2", "--threads", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"]
    log_path = tmp_path / "api.log"
    with log_path.open("wb") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        embedded.wait_for_port(port, server)
        url = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"Bearer {api_key}"}

        # Requests on fresh connections until both workers have served some
        sent, pids = 0, set()
        while len(pids) < 2 or sent < 20:
            assert sent < 400, "one worker served everything"
            headers = {**auth, "X-Request-ID": f"probe-{sent}"}
            assert requests.get(f"{url}/api/customers/c{sent}", headers=headers).status_code == 404
            sent += 1
            pids = {line["pid"] for line in _access_lines(log_path)}

        for _ in range(4):
            samples = scrape(url)
            counted = {"method": "GET", "route": ROUTE, "status": "404"}
            assert value(samples, "crm_http_requests_total", **counted) == sent
    finally:
        embedded.stop([server])
    probes = [line for line in _access_lines(log_path) if line["route"] == ROUTE]
    assert [line["request_id"] for line in probes] == [f"probe-{i}" for i in range(sent)]


def _access_lines(log_path):
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    return [line for line in lines if line["logger"] == "crm.access"]
