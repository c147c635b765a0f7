from collections.abc import Callable
from typing import TypeVar

import mongoengine
from pymongo.client_session import ClientSession

T = TypeVar("T")


def run(work: Callable[[ClientSession], T]) -> T:
    """Run ``work(session)`` in one transaction, retried as a whole on a transient conflict."""
    with mongoengine.get_connection().start_session() as session:
        return session.with_transaction(work)
