import threading
from collections.abc import Callable
from typing import TypeVar

import mongoengine
from pymongo.client_session import ClientSession

T = TypeVar("T")

# Transactions of one process mostly touch the same hot documents (a campaign's counts, an
# import's customers): two at once conflict and one does all its work again, so a process
# runs them one at a time. Processes still run theirs side by side.
_one_at_a_time = threading.RLock()
MAX_RERUNS = 20


class ReadChanged(Exception):
    """Raised by a transaction's work whose conditional write found a document changed
    since it read it (by another process's transaction): the work runs again, reading anew."""


def run(work: Callable[[ClientSession], T]) -> T:
    """Run ``work(session)`` in one transaction, retried as a whole on a transient conflict
    (with another process's) or when ``work`` raises ReadChanged."""
    for _ in range(MAX_RERUNS):
        try:
            with _one_at_a_time, mongoengine.get_connection().start_session() as session:
                return session.with_transaction(work)
        except ReadChanged:
            continue
    raise RuntimeError(f"the transaction's documents kept changing ({MAX_RERUNS} attempts)")
