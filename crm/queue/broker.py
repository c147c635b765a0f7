"""The Dramatiq broker and this process's settings, set up once at boot.

``create_app`` (the API, the console, the CLI) and ``dramatiq workers:boot`` (the workers)
both call ``setup`` before any actor is declared; actors then bind to this broker and read
the process's settings with ``settings()``. The broker's Redis client is the process's one
Redis client: queues, rate limits, locks, the sign-in throttles and health checks share it.
"""

import dramatiq
import redis
from dramatiq.middleware import CurrentMessage

from crm import config, db, logs, metrics
from crm.config import Settings
from crm.queue.layout import Broker
from crm.queue.middleware import WorkerMetrics
from crm.services import consent

DELIVERIES = "deliveries"
CAMPAIGNS = "campaigns"
INGESTION = "ingestion"
RECEIPTS = "receipts"
# Declared in every process, so that one which only sends (the API) knows them all.
QUEUES = (DELIVERIES, CAMPAIGNS, INGESTION, RECEIPTS)

_settings: Settings | None = None
_broker: Broker | None = None


class MongoConnection(dramatiq.Middleware):
    """Connects each worker process to MongoDB after it forks."""

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        logs.configure(settings().log_format)
        config.require(settings(), "worker")
        db.connect(settings())


def setup(settings: Settings) -> Broker:
    """Use ``settings`` in this process; the broker is made on the first call (its Redis
    URL cannot change afterwards: actors are bound to it)."""
    global _settings, _broker
    _settings = settings
    consent.configure(settings)
    if _broker is None:
        # Timeouts, so a Redis that hangs fails a health check or a request instead of
        # holding it (a stopped one refuses at once).
        client = redis.Redis.from_url(
            settings.redis_url, socket_connect_timeout=1, socket_timeout=5
        )
        heartbeat_timeout = int(settings.worker_dead_after_seconds * 1000)
        _broker = Broker(client=client, heartbeat_timeout=heartbeat_timeout)
        _broker.add_middleware(CurrentMessage())
        _broker.add_middleware(MongoConnection())
        _broker.add_middleware(WorkerMetrics())
        for queue_name in QUEUES:
            _broker.declare_queue(queue_name)
        dramatiq.set_broker(_broker)
        metrics.use(_broker.client)
    return _broker


def settings() -> Settings:
    if _settings is None:
        raise RuntimeError("crm.queue.broker.setup(settings) has not been called")
    return _settings


def get() -> Broker:
    if _broker is None:
        raise RuntimeError("crm.queue.broker.setup(settings) has not been called")
    return _broker


def redis_client() -> redis.Redis:
    return get().client
