"""Dramatiq actors; run them with ``dramatiq workers``.

The broker is declared here, before the actors, as Dramatiq requires; declaring it
opens no connection.
"""

import logging

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage

from crm import config, db

settings = config.load()


class MongoConnection(dramatiq.Middleware):
    """Checks the settings and connects each worker process to MongoDB after it forks."""

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )
        config.require(settings, "worker")
        db.connect(settings)


broker = RedisBroker(url=settings.redis_url)
broker.add_middleware(CurrentMessage())
broker.add_middleware(MongoConnection())
dramatiq.set_broker(broker)

from workers import campaigns, ingestion, receipts  # noqa: E402  (actors need the broker above)
from workers.sweeper import Sweeper  # noqa: E402

broker.add_middleware(Sweeper())

__all__ = ["broker", "campaigns", "ingestion", "receipts"]
