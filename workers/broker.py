"""The Dramatiq broker and this process's settings, set up once at boot.

``create_app`` (the API, the CLI) and ``dramatiq workers:boot`` (the workers) both call
``setup`` before any actor is declared; actors then bind to this broker and read the
process's settings with ``settings()``. The broker's Redis client is the process's one
Redis client: queues, rate limits, locks, the auth throttle and health checks share it.
"""

from typing import cast

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis
from dramatiq.middleware import CurrentMessage

from crm import config, db, logs, metrics
from crm.config import Settings
from crm.services import consent
from workers.metrics import WorkerMetrics


class Broker(RedisBroker):
    """Dramatiq's Redis broker, whose dead workers' messages go back to their queues when
    asked, rather than in the one broker call out of a thousand that Dramatiq picks.

    A worker process is alive while its heartbeat (Dramatiq's, by broker id) is fresher
    than ``heartbeat_timeout``. Dramatiq beats only when a consumer fetches, which a busy
    one does not, so live processes also ``beat()`` on their own.
    """

    @property
    def _heartbeats(self) -> str:
        return f"{self.namespace}:__heartbeats__"

    def beat(self) -> None:
        self.client.zadd(self._heartbeats, {self.broker_id: current_millis()})

    def dead_workers(self) -> list[str]:
        silent_since = current_millis() - self.heartbeat_timeout
        found = self.client.zrangebyscore(self._heartbeats, 0, silent_since)
        return [str(worker_id, "utf-8") for worker_id in cast(list[bytes], found)]

    def give_back_from_dead_workers(self, dead: list[str]) -> int:
        """Every message the ``dead`` workers had taken, back to its queue (Dramatiq's own
        maintenance, run on each queue and delay queue); returns how many."""
        queue_names = sorted(self.queues | self.delay_queues)
        pipe = self.client.pipeline()
        for worker_id in dead:
            for queue_name in queue_names:
                pipe.scard(f"{self.namespace}:__acks__.{worker_id}.{queue_name}")
        held = sum(pipe.execute())
        for queue_name in queue_names:
            self.scripts["dispatch"](
                keys=[self.namespace],
                args=[
                    "qsize",  # a command that changes nothing, to carry the maintenance
                    current_millis(),
                    queue_name,
                    self.broker_id,
                    self.heartbeat_timeout,
                    self.dead_message_ttl,
                    1,  # maintenance: now
                    self._max_unpack_size(),
                ],
            )
        return held

    def uptime_seconds(self) -> int:
        return int(self.client.info("server")["uptime_in_seconds"])


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
        dramatiq.set_broker(_broker)
        metrics.use(_broker.client)
    return _broker


def settings() -> Settings:
    if _settings is None:
        raise RuntimeError("workers.broker.setup(settings) has not been called")
    return _settings


def get() -> Broker:
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
