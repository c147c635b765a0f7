"""Queue messages handled, retried and failed, and how long each took, by actor: recorded
into Redis (``crm.metrics``) so that the API's ``/metrics`` shows every worker's."""

import time

import dramatiq
from dramatiq.broker import MessageProxy

from crm import metrics


class WorkerMetrics(dramatiq.Middleware):
    """Added after Dramatiq's Retries, so a failed message is already marked as failed for
    good or queued again by the time it is counted."""

    def __init__(self) -> None:
        self._started: dict[str, float] = {}

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        self._started[message.message_id] = time.perf_counter()

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: object = None,
        exception: BaseException | None = None,
    ) -> None:
        actor = message.actor_name
        started = self._started.pop(message.message_id, None)
        if started is not None:
            elapsed = time.perf_counter() - started
            metrics.observe("worker_message_duration_seconds", elapsed, actor=actor)
        metrics.count("worker_messages_processed", actor=actor)
        if exception is not None:
            outcome = "failed" if message.failed else "retried"
            metrics.count(f"worker_messages_{outcome}", actor=actor)

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        self.after_process_message(broker, message)
