"""The simulated vendor: takes batches, remembers keys, decides outcomes, queues receipts."""

import random
import threading

from flask import current_app

from crm.config import Settings
from vendor_simulator.dispatcher import Dispatcher, Receipt
from vendor_simulator.faults import Fault
from vendor_simulator.ledger import ACCEPTED, Ledger

EXTENSION = "vendor_simulator"


class Simulator:
    def __init__(self, settings: Settings):
        self.max_batch = settings.vendor_max_batch
        self._success_rate = settings.vendor_success_rate
        self._seed = settings.vendor_seed
        self._max_delay_seconds = settings.vendor_receipt_delay_ms / 1000
        # One lock over ledger, fault and random draws, so a seed replays the same outcomes.
        self._lock = threading.Lock()
        self._ledger = Ledger()
        self._fault = Fault()
        self._random = random.Random(self._seed)
        self.dispatcher = Dispatcher(
            settings.receipt_signing_secret, settings.vendor_receipt_linger_ms / 1000
        )

    def begin_request(self) -> Fault:
        """Count one ``/messages`` request and return the fault it meets (mode ``none`` if any)."""
        with self._lock:
            self._ledger.requests += 1
            fault = self._fault
            self._fault = fault.after_one_request()
            return fault

    def submit(self, callback_url: str, messages: list[dict]) -> list[dict]:
        receipts = []
        with self._lock:
            results = [self._ledger.record(m["idempotency_key"], m["to"]) for m in messages]
            for result in results:
                if result["status"] == ACCEPTED:
                    receipts.append(self._decide(callback_url, result["idempotency_key"]))
        self.dispatcher.schedule(receipts)
        return results

    def set_fault(self, fault: Fault) -> None:
        with self._lock:
            self._fault = fault

    def deliveries(self, idempotency_key: str) -> dict:
        with self._lock:
            return self._ledger.deliveries(idempotency_key)

    def stats(self) -> dict:
        with self._lock:
            stats = self._ledger.stats()
        return stats | self.dispatcher.stats()

    def reset(self) -> None:
        with self._lock:
            self._ledger = Ledger()
            self._fault = Fault()
            self._random = random.Random(self._seed)
            self.dispatcher.clear()

    def close(self) -> None:
        self.dispatcher.close()

    def _decide(self, callback_url: str, key: str) -> tuple[float, Receipt]:
        if self._random.random() < self._success_rate:
            receipt = Receipt(callback_url, key, "SENT", None)
        else:
            receipt = Receipt(callback_url, key, "FAILED", "undeliverable")
        return self._random.uniform(0, self._max_delay_seconds), receipt


def current_simulator() -> Simulator:
    return current_app.extensions[EXTENSION]
