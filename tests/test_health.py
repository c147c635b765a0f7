"""Probes and answers while a backing server is down: the API (gunicorn) over HTTP, on a
MongoDB and a Redis of the test's own that it stops."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from devstack import embedded
from tests.helpers.http import assert_error

pytestmark = pytest.mark.system


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
def api(servers, tmp_path):
    """The API in a process of its own: its Redis client is made once per process."""
    started, mongo_port, redis_port = servers
    env = {
        **os.environ,
        "CRM_MONGODB_URI": f"mongodb://127.0.0.1:{mongo_port}/health",
        "CRM_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
    }
    bin_dir = Path(sys.executable).parent
    created = subprocess.run(
        [bin_dir / "flask", "--app", "wsgi", "keys", "create", "probe", "--scope", "read"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    port = embedded.free_port()
    command = [bin_dir / "gunicorn", "-w", "1", "--threads", "4", "-b", f"127.0.0.1:{port}"]
    server = embedded.spawn([*map(str, command), "wsgi:app"], tmp_path / "api.log", env)
    embedded.wait_for_port(port, server, what="the API")
    url = f"http://127.0.0.1:{port}"
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {created.stdout.split()[0]}"
        assert http.get(f"{url}/health/ready", timeout=5).status_code == 200
        assert http.get(f"{url}/api/customers", timeout=5).status_code == 200
        yield url, http, started
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
