"""Dramatiq actors; run them with ``dramatiq workers``.

The broker is declared here, before the actors, as Dramatiq requires; declaring it
opens no connection.
"""

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage

from crm import config, db, logs

settings = config.load()


class MongoConnection(dramatiq.Middleware):
    """Connects each worker process to MongoDB after it forks."""

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        logs.configure(settings.log_format)
        db.connect(settings)


broker = RedisBroker(url=settings.redis_url)
broker.add_middleware(CurrentMessage())
broker.add_middleware(MongoConnection())
dramatiq.set_broker(broker)

from workers import campaigns, ingestion, receipts  # noqa: E402  (actors need the broker above)
from workers.metrics import WorkerMetrics  # noqa: E402
from workers.sweeper import Sweeper  # noqa: E402

broker.add_middleware(Sweeper())
broker.add_middleware(WorkerMetrics())

__all__ = ["broker", "campaigns", "ingestion", "receipts"]
