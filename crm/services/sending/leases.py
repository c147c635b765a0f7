"""The chunk leases this process holds while it sends, renewed by its heartbeat.

A lease can then be short: a live worker keeps its chunk however long the vendor takes to
answer, and a dead worker's chunk is free within one lease. A call that ends (or is
stopped by its time limit) stops renewing at once.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from bson import ObjectId

from crm.clock import utcnow
from crm.store import chunks

_held: dict[ObjectId, str] = {}
_lock = threading.Lock()


@contextmanager
def holding(chunk_id: ObjectId, owner: str) -> Iterator[None]:
    with _lock:
        _held[chunk_id] = owner
    try:
        yield
    finally:
        with _lock:
            _held.pop(chunk_id, None)


def renew(lease: timedelta) -> int:
    """Extend every lease this process holds by ``lease`` from now; returns how many."""
    with _lock:
        held = dict(_held)
    return chunks.renew(held, utcnow() + lease) if held else 0
