"""The Dramatiq broker and this process's settings, set up once at boot.

``create_app`` (the API, the CLI) and ``dramatiq workers:boot`` (the workers) both call
``setup`` before any actor is declared; actors then bind to this broker and read the
process's settings with ``settings()``. The broker's Redis client is the process's one
Redis client: queues, rate limits, locks, the auth throttle and health checks share it.
"""

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage

from crm import config, db, logs, metrics
from crm.config import Settings
from crm.services import consent
from workers.metrics import WorkerMetrics

_settings: Settings | None = None
_broker: RedisBroker | None = None


class MongoConnection(dramatiq.Middleware):
    """Connects each worker process to MongoDB after it forks."""

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        logs.configure(settings().log_format)
        config.require(settings(), "worker")
        db.connect(settings())


def setup(settings: Settings) -> RedisBroker:
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
        _broker = RedisBroker(client=client)
        _broker.add_middleware(CurrentMessage())
        _broker.add_middleware(MongoConnection())
        _broker.add_middleware(WorkerMetrics())
        dramatiq.set_broker(_broker)
        metrics.use(_broker.client)
    return _broker


def settings() -> Settings:
    if _settings is None:
        raise RuntimeError("workers.broker.setup(settings) has not been called")
    return _settings


def get() -> RedisBroker:
    if _broker is None:
        raise RuntimeError("workers.broker.setup(settings) has not been called")
    return _broker


def redis_client() -> redis.Redis:
    return get().client


def in_queue(queue_name: str, message_ids: list[str]) -> set[str]:
    """Which of ``message_ids`` are still in ``queue_name``, waiting, delayed or being worked
    on (Dramatiq keeps a message in the queue's hash until it is acknowledged)."""
    if not message_ids:
        return set()
    namespace = get().namespace
    pipe = redis_client().pipeline()
    for name in (queue_name, f"{queue_name}.DQ"):
        pipe.hmget(f"{namespace}:{name}.msgs", message_ids)
    found = pipe.execute()
    return {
        message_id
        for values in found
        for message_id, value in zip(message_ids, values, strict=True)
        if value is not None
    }
