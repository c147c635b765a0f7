"""Posts delivery receipts back to the CRM from one background thread, retrying until delivered."""

import heapq
import itertools
import json
import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from enum import Enum

import requests

from vendor_simulator.signing import signature_headers

log = logging.getLogger(__name__)

BATCH_SIZE = 1000  # the most the CRM's batch endpoint takes
MAX_ATTEMPTS = 50
FIRST_BACKOFF_SECONDS = 0.05
MAX_BACKOFF_SECONDS = 10.0
TIMEOUT = (3.05, 10.0)


@dataclass
class Receipt:
    callback_url: str
    communication_log_id: str
    status: str
    reason: str | None
    attempts: int = 0

    def to_json(self) -> dict:
        return {
            "communication_log_id": self.communication_log_id,
            "status": self.status,
            "reason": self.reason,
        }


class Outcome(Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    DROP = "drop"


class Dispatcher:
    def __init__(self, signing_secret: str, linger_seconds: float) -> None:
        self._signing_secret = signing_secret
        self._linger_seconds = linger_seconds
        self._wake = threading.Condition()
        self._queue: list[tuple[float, int, Receipt]] = []
        self._order = itertools.count()  # breaks ties between receipts due at the same moment
        self._in_flight = 0
        self._sent = 0
        # Bumped by clear(), so a batch already on the wire cannot touch the cleared counters.
        self._generation = 0
        self._closed = False
        self._thread: threading.Thread | None = None
        self._session = requests.Session()

    def schedule(self, receipts: list[tuple[float, Receipt]]) -> None:
        """Queue each receipt to go out at its due moment (monotonic clock)."""
        with self._wake:
            for due, receipt in receipts:
                self._push(due, receipt)
            # Started here rather than at app creation, so it runs in the process that serves.
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="receipts", daemon=True)
                self._thread.start()
            self._wake.notify()

    def stats(self) -> dict:
        with self._wake:
            pending = len(self._queue) + self._in_flight
            return {"receipts_sent": self._sent, "receipts_pending": pending}

    def clear(self) -> None:
        with self._wake:
            self._queue.clear()
            self._in_flight = 0
            self._sent = 0
            self._generation += 1

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join()
        self._session.close()

    def _push(self, due: float, receipt: Receipt) -> None:
        heapq.heappush(self._queue, (due, next(self._order), receipt))

    def _run(self) -> None:
        while True:
            with self._wake:
                due = self._wait_for_due()
                if due is None:
                    return
                generation = self._generation
                self._in_flight += len(due)
            by_url: dict[str, list[Receipt]] = defaultdict(list)
            for receipt in due:
                by_url[receipt.callback_url].append(receipt)
            for url, receipts in by_url.items():
                for start in range(0, len(receipts), BATCH_SIZE):
                    batch = receipts[start : start + BATCH_SIZE]
                    outcome = self._post(url, batch)
                    with self._wake:
                        self._settle(batch, outcome, generation)

    def _wait_for_due(self) -> list[Receipt] | None:
        while not self._closed:
            now = time.monotonic()
            if not self._queue:
                self._wake.wait()
                continue
            # The oldest due receipt waits up to the linger, so receipts go out in fuller
            # batches, as vendors' webhooks do; a full batch goes at once.
            send_at = self._queue[0][0] + self._linger_seconds
            if send_at <= now or (self._queue[0][0] <= now and len(self._queue) >= BATCH_SIZE):
                due = []
                while self._queue and self._queue[0][0] <= now:
                    due.append(heapq.heappop(self._queue)[2])
                return due
            self._wake.wait(send_at - now)
        return None

    def _post(self, url: str, batch: list[Receipt]) -> Outcome:
        body = json.dumps({"receipts": [receipt.to_json() for receipt in batch]}).encode()
        headers = {"Content-Type": "application/json"}
        if self._signing_secret:
            headers |= signature_headers(self._signing_secret, body)
        try:
            response = self._session.post(url, data=body, headers=headers, timeout=TIMEOUT)
        except requests.RequestException as error:
            log.warning("receipt callback %s failed, will retry: %s", url, error)
            return Outcome.RETRY
        if response.ok:
            return Outcome.DELIVERED
        if response.status_code == 429 or response.status_code >= 500:
            log.warning("receipt callback %s answered %d, will retry", url, response.status_code)
            return Outcome.RETRY
        log.error(
            "receipt callback %s answered %d, dropping %d receipts",
            url,
            response.status_code,
            len(batch),
        )
        return Outcome.DROP

    def _settle(self, batch: list[Receipt], outcome: Outcome, generation: int) -> None:
        if generation != self._generation:
            return
        self._in_flight -= len(batch)
        if outcome is Outcome.DELIVERED:
            self._sent += len(batch)
        if outcome is not Outcome.RETRY:
            return
        now = time.monotonic()
        given_up = 0
        for receipt in batch:
            receipt.attempts += 1
            if receipt.attempts >= MAX_ATTEMPTS:
                given_up += 1
                continue
            backoff = FIRST_BACKOFF_SECONDS * 2 ** (receipt.attempts - 1)
            self._push(now + min(backoff, MAX_BACKOFF_SECONDS), receipt)
        if given_up:
            log.error(
                "dropping %d receipts for %s after %d attempts",
                given_up,
                batch[0].callback_url,
                MAX_ATTEMPTS,
            )
