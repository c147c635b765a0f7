"""Dramatiq actors; run them with ``dramatiq workers:boot``."""


def boot() -> None:
    """Set the broker up from the environment, then declare the actors on it."""
    from crm import config
    from crm.queue import broker

    dramatiq_broker = broker.setup(config.load())
    declare_actors()
    from workers.heartbeat import Heartbeat
    from workers.sweeper import Sweeper

    dramatiq_broker.add_middleware(Heartbeat())
    dramatiq_broker.add_middleware(Sweeper())


def declare_actors() -> None:
    """Declare the actors on the broker ``crm.queue.broker.setup`` made."""
    from workers import ingestion, receipts, scheduling, sending  # noqa: F401
