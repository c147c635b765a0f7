"""Runs the sweeps (crm/services/sweeps.py, crm/services/ingestion/sweep.py) from inside
the worker processes.

Every process starts a sweeper thread; a Redis lock lets one of them sweep per interval.
"""

import logging
import threading
from datetime import timedelta

import dramatiq

from crm import metrics
from crm.services import sweeps
from crm.services.ingestion import sweep as ingestion_sweep
from workers import campaigns, ingestion

log = logging.getLogger(__name__)

LOCK_KEY = "crm:sweep-lock"


class Sweeper(dramatiq.Middleware):
    def __init__(self) -> None:
        self._stopped = threading.Event()

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if campaigns.settings.sweep_interval_seconds > 0:
            self._stopped.clear()
            threading.Thread(target=self._loop, args=(broker,), daemon=True).start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stopped.set()

    def _loop(self, broker: dramatiq.Broker) -> None:
        interval = campaigns.settings.sweep_interval_seconds
        while not self._stopped.wait(interval):
            lock_ms = max(1, int(interval * 1000))
            if not broker.client.set(LOCK_KEY, "1", nx=True, px=lock_ms):  # type: ignore[attr-defined]
                continue
            try:
                sweep_once()
            except Exception:
                log.exception("sweep failed; trying again in %ss", interval)


def sweep_once() -> None:
    settings = campaigns.settings
    timed_out = sweeps.fail_silent_messages(timedelta(seconds=settings.receipt_timeout_seconds))
    metrics.count("sweep_actions", timed_out, action="receipt_timeout")
    sweeps.resume_stalled(
        timedelta(seconds=settings.orphan_after_seconds),
        settings.send_chunk_size,
        campaigns.deliver_chunk.send,
        campaigns.materialize_campaign.send,
    )
    sweeps.settle_counts(timedelta(seconds=settings.sweep_interval_seconds))
    requeued_chunks = ingestion_sweep.requeue_lost_chunks(
        timedelta(seconds=settings.orphan_after_seconds), ingestion.ingest_chunk.send
    )
    metrics.count("sweep_actions", requeued_chunks, action="import_chunk_requeued")
