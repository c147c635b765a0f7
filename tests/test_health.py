"""Probes and answers while a backing server is down: the API over HTTP, on a MongoDB and
a Redis of the test's own that it stops."""

import time
from dataclasses import replace

import pytest
import requests

from crm import create_app
from crm.services import api_keys
from devstack import embedded
from tests.helpers.http import assert_error


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
def api(servers, settings):
    started, mongo_port, redis_port = servers
    app = create_app(
        replace(
            settings,
            mongodb_uri=f"mongodb://127.0.0.1:{mongo_port}/health",
            redis_url=f"redis://127.0.0.1:{redis_port}/0",
        )
    )
    key = api_keys.create("probe")[1]
    with embedded.serve(app) as url:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {key}"
        assert http.get(f"{url}/health/ready", timeout=5).status_code == 200
        assert http.get(f"{url}/api/customers", timeout=5).status_code == 200
        yield url, http, started
    app.extensions["crm_redis"].close()
    app.extensions["crm_health_redis"].close()


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
    assert_error(listed, 503)
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
    assert_error(guessed, 503)
