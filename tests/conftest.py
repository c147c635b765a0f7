"""Real servers for the whole run: a MongoDB-protocol server (SecantusDB) and Redis.

Both start before any test module is imported, so the Dramatiq broker that
``workers`` declares at import already points at the test Redis.
"""

import os
import tempfile
import uuid
from dataclasses import replace
from pathlib import Path

import dramatiq
import pytest

from devstack import embedded
from devstack.embedded import serve

_servers = []


def pytest_configure(config):
    logs = Path(tempfile.mkdtemp(prefix="crm-test-"))
    mongo_port, redis_port = embedded.free_port(), embedded.free_port()
    _servers.append(embedded.start_mongo(mongo_port, ":memory:", logs / "mongo.log"))
    _servers.append(embedded.start_redis(redis_port, logs / "redis", logs / "redis.log", False))
    os.environ["CRM_MONGODB_URI"] = f"mongodb://127.0.0.1:{mongo_port}/crm"
    os.environ["CRM_REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    os.environ["CRM_SWEEP_INTERVAL_SECONDS"] = "0"
    os.environ["CRM_RECEIPT_SIGNING_SECRET"] = "test-signing-secret"
    # A local stack's file (`make run` in this tree) must not leak into the tests' settings.
    os.environ["CRM_VAR_DIR"] = str(logs)


def pytest_unconfigure(config):
    embedded.stop(_servers)


@pytest.fixture
def settings():
    from crm import config

    base = config.load()
    database = f"test_{uuid.uuid4().hex[:12]}"
    return replace(base, mongodb_uri=f"{base.mongodb_uri.rsplit('/', 1)[0]}/{database}")


@pytest.fixture
def broker():
    import workers

    # The broker is declared when `workers` is first imported: that must be after
    # pytest_configure, or it would talk to some other Redis.
    assert workers.settings.redis_url == os.environ["CRM_REDIS_URL"]
    workers.broker.client.flushdb()
    yield workers.broker
    workers.broker.client.flushdb()


@pytest.fixture
def app(settings, broker):
    import mongoengine

    from crm import create_app

    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["crm_redis"].close()
    app.extensions["crm_health_redis"].close()
    mongoengine.get_connection().drop_database(settings.mongodb_uri.rsplit("/", 1)[1])


@pytest.fixture
def api_key(app):
    """A live API key in the test's database."""
    from crm.services import api_keys

    return api_keys.create("tests")[1]


@pytest.fixture
def client(app, api_key):
    """A test client that authenticates with ``api_key``."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {api_key}"
    return client


@pytest.fixture
def anonymous(app):
    return app.test_client()


@pytest.fixture
def vendor(settings):
    """The vendor simulator over real HTTP, with a fixed seed and quick receipts."""
    import vendor_simulator

    app = vendor_simulator.create_app(replace(settings, vendor_seed=7, vendor_receipt_delay_ms=20))
    with serve(app) as url:
        yield url
    app.extensions["vendor_simulator"].close()


@pytest.fixture
def live(app, settings, vendor, broker, monkeypatch):
    """The API on a real port, and Dramatiq worker threads that deliver to ``vendor``."""
    import workers.campaigns

    with serve(app) as api_url:
        worker_settings = replace(
            settings, vendor_url=vendor, public_url=api_url, send_chunk_size=7
        )
        monkeypatch.setattr(workers.campaigns, "settings", worker_settings)
        worker = dramatiq.Worker(broker, worker_threads=4, worker_timeout=100)
        worker.start()
        yield api_url
        worker.stop()


@pytest.fixture
def worker(app, broker, settings, monkeypatch):
    """Dramatiq worker threads on the ingestion queue, with this test's settings."""
    import workers.ingestion

    monkeypatch.setattr(workers.ingestion, "settings", settings)
    worker = dramatiq.Worker(broker, queues={"ingestion"}, worker_threads=8, worker_timeout=100)
    worker.start()
    yield worker
    worker.stop()
