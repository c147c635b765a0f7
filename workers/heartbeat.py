"""Each worker process's heartbeat, and what it takes to notice a dead one quickly.

Every few seconds each process says it is alive and renews the chunk leases it holds.
While sweeps are on, one process per beat also recovers what dead workers held: the queue
messages a process silent for ``worker_dead_after_seconds`` had taken go back to their
queues, and chunks whose lease expired are handed out again. So a worker killed mid-send
(SIGKILL, out of memory, a pod restart) holds its campaign up for at most about
``worker_dead_after_seconds`` plus a beat, whatever else the stack is doing.
"""

import logging
import threading
from datetime import timedelta

import dramatiq

from crm import metrics
from crm.queue import broker
from crm.services.sending import leases, sweeps
from workers import sending

log = logging.getLogger(__name__)

LOCK_KEY = "crm:recovery-lock"


def interval_seconds() -> float:
    settings = broker.settings()
    return min(settings.worker_dead_after_seconds, settings.send_lease_seconds) / 4


class Heartbeat(dramatiq.Middleware):
    def __init__(self) -> None:
        self._stopped = threading.Event()

    def after_worker_boot(self, broker_: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stopped.clear()
        threading.Thread(target=self._loop, name="heartbeat", daemon=True).start()

    def before_worker_shutdown(self, broker_: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stopped.set()

    def _loop(self) -> None:
        while True:
            interval = interval_seconds()
            try:
                beat()
                if broker.settings().sweep_interval_seconds > 0:
                    lock_ms = max(1, int(interval * 1000))
                    if broker.redis_client().set(LOCK_KEY, "1", nx=True, px=lock_ms):
                        recover()
            except Exception:
                log.exception("heartbeat failed; trying again in %ss", interval)
            if self._stopped.wait(interval):
                return


def beat() -> None:
    broker.get().beat()
    leases.renew(timedelta(seconds=broker.settings().send_lease_seconds))


def recover() -> dict[str, int]:
    """Give back what dead workers held; returns how much, by kind."""
    queue_broker = broker.get()
    dead = queue_broker.dead_workers()
    given_back = 0
    # After a Redis restart every process looks silent until its next beat: judge none
    # dead before each has had the time to beat.
    if dead and queue_broker.uptime_seconds() * 1000 >= queue_broker.heartbeat_timeout:
        given_back = queue_broker.give_back_from_dead_workers(dead)
        if given_back:
            log.warning("%d queue messages held by dead workers went back", given_back)
    actions = {
        "dead_worker_message": given_back,
        "lease_expired": sweeps.requeue_expired_leases(sending.enqueue_chunk),
    }
    for action, n in actions.items():
        metrics.count("sweep_actions", n, action=action)
    return actions
