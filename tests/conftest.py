"""Real servers for the whole run: a MongoDB-protocol server (SecantusDB) and Redis.

Both start before any test module is imported, and the Dramatiq broker is set up on the
test Redis before any actor is declared.
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
from tests.helpers.privacy import CustomerDataGuard

pytest_plugins = ["tests.helpers.vendors"]

_servers = []
_privacy = CustomerDataGuard()


def pytest_configure(config):
    logs = Path(tempfile.mkdtemp(prefix="crm-test-"))
    mongo_port, redis_port = embedded.free_port(), embedded.free_port()
    _servers.append(embedded.start_mongo(mongo_port, ":memory:", logs / "mongo.log"))
    _servers.append(embedded.start_redis(redis_port, logs / "redis", logs / "redis.log", False))
    os.environ["CRM_MONGODB_URI"] = f"mongodb://127.0.0.1:{mongo_port}/crm"
    os.environ["CRM_REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    os.environ["CRM_SWEEP_INTERVAL_SECONDS"] = "0"
    os.environ["CRM_RECEIPT_SIGNING_SECRET"] = "test-signing-secret"
    os.environ["CRM_SECRET_KEY"] = "test-session-key"
    # A local stack's file (`make run` in this tree) must not leak into the tests' settings.
    os.environ["CRM_VAR_DIR"] = str(logs)
    import workers

    workers.boot()  # as `dramatiq workers:boot` does: the broker, its middleware, the actors
    _privacy.install()


def pytest_unconfigure(config):
    embedded.stop(_servers)


def pytest_collection_modifyitems(items):
    """A test given the settings (and so a database of its own) is marked ``db``."""
    for item in items:
        if "settings" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


@pytest.fixture(autouse=True)
def no_customer_data_in_logs():
    """Every test fails if any log line, at any level, holds an e-mail address."""
    _privacy.leaks.clear()
    yield
    assert not _privacy.leaks, _privacy.leaks


@pytest.fixture
def settings():
    from crm import config

    base = config.load()
    database = f"test_{uuid.uuid4().hex[:12]}"
    return replace(base, mongodb_uri=f"{base.mongodb_uri.rsplit('/', 1)[0]}/{database}")


@pytest.fixture
def broker():
    from crm.queue import broker

    dramatiq_broker = broker.get()
    dramatiq_broker.client.flushdb()
    yield dramatiq_broker
    dramatiq_broker.client.flushdb()


@pytest.fixture
def app(settings, broker):
    import mongoengine

    from crm import create_app

    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    mongoengine.get_connection().drop_database(settings.mongodb_uri.rsplit("/", 1)[1])


@pytest.fixture
def api_key(app):
    """A live API key in the test's database."""
    from crm.services import api_keys

    return api_keys.create("tests", "admin")[1]


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
def vendor():
    """The vendor simulator over real HTTP, with a fixed seed and quick receipts."""
    import vendor_simulator
    from vendor_simulator import config as vendor_config

    app = vendor_simulator.create_app(vendor_config.load(seed=7, receipt_delay_ms=20))
    with serve(app) as url:
        yield url
    app.extensions["vendor_simulator"].close()


@pytest.fixture
def live(app, settings, vendor, broker):
    """The API on a real port, and Dramatiq worker threads that deliver to ``vendor``."""
    from crm.queue import broker as worker_broker

    with serve(app) as api_url:
        worker_broker.setup(
            replace(settings, vendor_url=vendor, public_url=api_url, send_chunk_size=7)
        )
        worker = dramatiq.Worker(broker, worker_threads=4, worker_timeout=100)
        worker.start()
        yield api_url
        worker.stop()


@pytest.fixture
def worker(app, broker):
    """Dramatiq worker threads on the ingestion queue, with this test's settings."""
    worker = dramatiq.Worker(broker, queues={"ingestion"}, worker_threads=8, worker_timeout=100)
    worker.start()
    yield worker
    worker.stop()
