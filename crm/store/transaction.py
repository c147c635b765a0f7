import threading
from collections.abc import Callable
from typing import TypeVar

import mongoengine
from pymongo.client_session import ClientSession

T = TypeVar("T")

# Every sending transaction changes its campaign's counts, so two at once on one campaign
# conflict and one of them does its work again: a process runs them one at a time.
_one_at_a_time = threading.Lock()


def run(work: Callable[[ClientSession], T]) -> T:
    """Run ``work(session)`` in one transaction, retried as a whole on a transient conflict
    (with another process's)."""
    with _one_at_a_time, mongoengine.get_connection().start_session() as session:
        return session.with_transaction(work)
