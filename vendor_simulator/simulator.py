"""The simulated vendor: takes batches, decides outcomes, queues receipts, answers lookups."""

import random
import threading
import time
from uuid import uuid4

from flask import current_app

from vendor_simulator.config import Settings
from vendor_simulator.dispatcher import Dispatcher, Receipt
from vendor_simulator.faults import LOOKUP_FAULTS, Fault
from vendor_simulator.ledger import Delivery, Ledger

EXTENSION = "vendor_simulator"


class Simulator:
    def __init__(self, settings: Settings):
        self.max_batch = settings.max_batch
        self._success_rate = settings.success_rate
        self._seed = settings.seed
        self._max_delay_seconds = settings.receipt_delay_ms / 1000
        self._deduplicate = settings.deduplicate
        # One lock over ledger, fault and random draws, so a seed replays the same outcomes.
        self._lock = threading.Lock()
        self._ledger = Ledger()
        self._fault = Fault()
        self._random = random.Random(self._seed)
        self.dispatcher = Dispatcher(settings.signing_secret, settings.receipt_linger_ms / 1000)

    def begin_send(self) -> Fault:
        """Count one ``/messages`` request and return the fault it meets (mode ``none`` if any)."""
        with self._lock:
            self._ledger.requests += 1
            return self._meet(self._fault.in_force(time.monotonic()))

    def begin_lookup(self) -> Fault:
        """Count one lookup and return the fault it meets: only a vendor that is down."""
        with self._lock:
            self._ledger.lookups += 1
            fault = self._fault.in_force(time.monotonic())
            return self._meet(fault) if fault.mode in LOOKUP_FAULTS else Fault()

    def submit(self, callback_url: str, messages: list[dict], lose_receipts: bool) -> list[dict]:
        results, receipts = [], []
        with self._lock:
            now = time.monotonic()
            self._ledger.largest_batch = max(self._ledger.largest_batch, len(messages))
            for message in messages:
                key = message["idempotency_key"]
                if not message["to"].strip():
                    results.append(self._ledger.reject(key))
                    continue
                if self._deduplicate and self._ledger.has(key):
                    results.append(self._ledger.repeat(key))
                    continue
                delivery = self._decide(now)
                results.append(self._ledger.deliver(key, delivery))
                if lose_receipts:
                    self._ledger.receipts_lost += 1
                    continue
                receipt = Receipt(callback_url, key, delivery.final_status, delivery.reason)
                receipts.append((delivery.due, receipt))
        self.dispatcher.schedule(receipts)
        return results

    def lookup(self, idempotency_keys: list[str]) -> list[dict]:
        with self._lock:
            now = time.monotonic()
            return [self._ledger.lookup(key, now) for key in idempotency_keys]

    def set_fault(self, fault: Fault) -> None:
        with self._lock:
            self._fault = fault.starting(time.monotonic())

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

    def _meet(self, fault: Fault) -> Fault:
        self._fault = fault.after_one_request()
        return fault

    def _decide(self, now: float) -> Delivery:
        if self._random.random() < self._success_rate:
            status, reason = "SENT", None
        else:
            status, reason = "FAILED", "undeliverable"
        due = now + self._random.uniform(0, self._max_delay_seconds)
        return Delivery(uuid4().hex, status, reason, due)


def current_simulator() -> Simulator:
    return current_app.extensions[EXTENSION]
