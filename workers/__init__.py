"""Dramatiq actors; run them with ``dramatiq workers:boot``."""


def boot() -> None:
    """Set the broker up from the environment, then declare the actors on it."""
    from crm import config
    from workers import broker

    dramatiq_broker = broker.setup(config.load())
    from workers import ingestion, receipts, scheduling, sending  # noqa: F401  (the actors)
    from workers.heartbeat import Heartbeat
    from workers.sweeper import Sweeper

    dramatiq_broker.add_middleware(Heartbeat())
    dramatiq_broker.add_middleware(Sweeper())
