"""Probes and answers while a backing server is down: the API served by gunicorn, on a
MongoDB and a Redis of the test's own that it stops."""

import os
import sys
import time
from pathlib import Path

import pytest
import requests

from crm import config, db
from crm.services import api_keys
from devstack import embedded

ERROR_KEYS = {"code", "status", "message", "errors"}


@pytest.fixture
def servers(tmp_path):
    mongo_port, redis_port = embedded.free_port(), embedded.free_port()
    started = {
        "mongo": embedded.start_mongo(mongo_port, ":memory:", tmp_path / "mongo.log"),
        "redis": embedded.start_redis(redis_port, tmp_path / "redis", tmp_path / "r.log", False),
    }
    yield started, mongo_port, redis_port
    embedded.stop(list(started.values()))


@pytest.fixture
def api(servers, settings, tmp_path):
    started, mongo_port, redis_port = servers
    env = {
        **os.environ,
        "CRM_MONGODB_URI": f"mongodb://127.0.0.1:{mongo_port}/health",
        "CRM_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
    }
    db.connect(config.load(env))
    key = api_keys.create("probe", "admin")[1]
    db.connect(settings)
    port = embedded.free_port()
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    command = [gunicorn, "--preload", "-w", "1", "--threads", "4", "-b", f"127.0.0.1:{port}"]
    server = embedded.spawn([*command, "wsgi:app"], tmp_path / "api.log", env)
    try:
        embedded.wait_for_port(port, server)
        url = f"http://127.0.0.1:{port}"
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {key}"
        assert http.get(f"{url}/health/ready", timeout=5).status_code == 200
        assert http.get(f"{url}/api/customers", timeout=5).status_code == 200
        yield url, http, started
    finally:
        embedded.stop([server])


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_with_mongodb_stopped_ready_is_503_within_2s_and_the_api_503_not_500(api):
    url, http, started = api
    embedded.stop([started["mongo"]])

    ready, seconds = timed(lambda: http.get(f"{url}/health/ready", timeout=10))
    assert ready.status_code == 503 and ready.json()["problems"] == ["mongodb"]
    assert seconds < 2
    assert http.get(f"{url}/health", timeout=10).status_code == 503
    live, seconds = timed(lambda: http.get(f"{url}/health/live", timeout=10))
    assert live.status_code == 200 and seconds < 0.5

    listed, seconds = timed(lambda: http.get(f"{url}/api/customers", timeout=10))
    assert listed.status_code == 503
    assert set(listed.json()) == ERROR_KEYS and listed.json()["code"] == 503
    assert seconds < 4


def test_with_redis_stopped_ready_is_503_within_2s_and_the_api_503_not_500(api):
    url, http, started = api
    embedded.stop([started["redis"]])

    ready, seconds = timed(lambda: http.get(f"{url}/health/ready", timeout=10))
    assert ready.status_code == 503 and ready.json()["problems"] == ["redis"]
    assert seconds < 2
    # A valid key needs no Redis; a failed one is counted there, which now cannot be done.
    assert http.get(f"{url}/api/customers", timeout=10).status_code == 200
    guessed = requests.get(
        f"{url}/api/customers", headers={"Authorization": "Bearer crm_x_guess"}, timeout=10
    )
    assert guessed.status_code == 503 and set(guessed.json()) == ERROR_KEYS
