import contextlib
import threading
from collections.abc import Callable
from typing import TypeVar

import mongoengine
import pymongo
from pymongo.client_session import ClientSession
from pymongo.errors import PyMongoError

T = TypeVar("T")

# Transactions of one process mostly touch the same hot documents (a campaign's counts, an
# import's customers): two at once conflict and one does all its work again, so a process
# runs them one at a time. Processes still run theirs side by side.
# Imports take turns apart from the rest (sends, receipts): their customers are not what a
# send's transaction touches, and a long import chunk never makes a send wait for its turn.
SENDS = threading.RLock()
IMPORTS = threading.RLock()
MAX_RERUNS = 20


class ReadChanged(Exception):
    """Raised by a transaction's work whose conditional write found a document changed
    since it read it (by another process's transaction): the work runs again, reading anew."""


class KeptChanging(RuntimeError):
    """The documents a transaction reads kept changing under it: try again later."""


class OutOfTime(Exception):
    """The transaction could not commit within its time budget and was given up (aborted,
    or left to the server, which aborts it): the same work will not fit either."""


def run(
    work: Callable[[ClientSession], T],
    time_budget: float | None = None,
    turns: threading.RLock = SENDS,
) -> T:
    """Run ``work(session)`` in one transaction, retried as a whole on a transient conflict
    (with another process's) or when ``work`` raises ReadChanged; one at a time with the
    process's other transactions taking ``turns`` (SENDS or IMPORTS).

    ``time_budget``: the seconds every attempt together may take, from when this process's
    turn comes; past it, OutOfTime. Without one, pymongo retries transient errors for up to
    two minutes, each attempt bounded only by the server's transaction lifetime limit.
    """
    for _ in range(MAX_RERUNS):
        try:
            with (
                turns,
                mongoengine.get_connection().start_session() as session,
                pymongo.timeout(time_budget) if time_budget else contextlib.nullcontext(),
            ):
                return session.with_transaction(work)
        except ReadChanged:
            continue
        except PyMongoError as error:
            if time_budget and error.timeout:
                raise OutOfTime(f"not committed within {time_budget:g}s: {error}") from error
            raise
    raise KeptChanging(f"the transaction's documents kept changing ({MAX_RERUNS} attempts)")
