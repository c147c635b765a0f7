"""Several actor calls' items written as one group, acknowledged only once written."""

import threading
from collections.abc import Callable
from typing import Any


class GroupFailed(Exception):
    """The group this call's items were written with failed; the call should be retried."""


class _Group:
    def __init__(self) -> None:
        self.items: list[Any] = []
        self.full = threading.Event()
        self.written = threading.Event()
        self.error: BaseException | None = None


class GroupCommit:
    """The first caller of a group waits up to ``max_wait`` seconds (less once ``max_items``
    have joined), then writes everyone's items with one ``write`` call; the other callers
    wait for that write, so no call returns before its items are stored."""

    def __init__(self, write: Callable[[list[Any]], None], max_items: int, max_wait: float):
        self._write = write
        self._max_items = max_items
        self._max_wait = max_wait
        self._lock = threading.Lock()
        self._open: _Group | None = None

    def submit(self, items: list[Any]) -> None:
        with self._lock:
            group, leads = self._open, self._open is None
            if group is None:
                group = self._open = _Group()
            group.items.extend(items)
            if len(group.items) >= self._max_items:
                group.full.set()
                self._open = None
        if leads:
            self._lead(group)
        else:
            group.written.wait()
            if group.error is not None:
                raise GroupFailed(str(group.error)) from group.error

    def _lead(self, group: _Group) -> None:
        group.full.wait(self._max_wait)
        with self._lock:
            if self._open is group:
                self._open = None
        try:
            self._write(group.items)
        except BaseException as error:
            group.error = error
            raise
        finally:
            group.written.set()
