"""Runs the sweeps (crm/services/sending/sweeps.py, crm/services/ingestion/sweep.py) from
inside the worker processes.

Every process starts a sweeper thread; a Redis lock lets one of them sweep per interval.
The thread outlives any error, Redis and MongoDB outages included: it logs and tries
again at the next interval.
"""

import logging
import threading
from datetime import timedelta

import dramatiq

from crm import metrics
from crm.clock import utcnow
from crm.queue import broker
from crm.queue.handles import enqueue_import_chunk, enqueue_materialize
from crm.services.ingestion import sweep as ingestion_sweep
from crm.services.sending import sweeps
from workers import heartbeat, ingestion, scheduling, sending

log = logging.getLogger(__name__)

LOCK_KEY = "crm:sweep-lock"


class Sweeper(dramatiq.Middleware):
    def __init__(self) -> None:
        self._stopped = threading.Event()

    def after_worker_boot(self, broker_: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if broker.settings().sweep_interval_seconds > 0:
            self._stopped.clear()
            threading.Thread(target=self._loop, name="sweeper", daemon=True).start()

    def before_worker_shutdown(self, broker_: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stopped.set()

    def _loop(self) -> None:
        interval = broker.settings().sweep_interval_seconds
        while not self._stopped.wait(interval):
            try:
                lock_ms = max(1, int(interval * 1000))
                if broker.redis_client().set(LOCK_KEY, "1", nx=True, px=lock_ms):
                    sweep_once()
            except Exception:
                log.exception("sweep failed; trying again in %ss", interval)


def sweep_once() -> None:
    settings = broker.settings()
    idle_for = timedelta(seconds=settings.orphan_after_seconds)
    vendor = sending.vendor()
    heartbeat.recover()
    actions = {
        "queue_message_lost": sweeps.requeue_lost(
            idle_for, sending.in_queue, sending.enqueue_chunk
        ),
        "materialization_restarted": sweeps.restart_stalled(
            idle_for, sending.in_campaigns_queue, enqueue_materialize
        ),
        "import_chunk_requeued": ingestion_sweep.requeue_lost_chunks(
            idle_for, ingestion.in_queue, enqueue_import_chunk
        ),
        "winner_handed_out": sweeps.winners_due(utcnow(), idle_for, sending.choose_winner.send),
    }
    actions.update(scheduling.fire_due())
    sweeps.resume_and_cancel(sending.enqueue_chunk, vendor)
    looked_up = sweeps.look_up_silent(timedelta(seconds=settings.receipt_timeout_seconds), vendor)
    sweeps.complete_finished()
    for action, n in {**actions, **looked_up}.items():
        metrics.count("sweep_actions", n, action=action)
