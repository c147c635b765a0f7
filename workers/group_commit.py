"""Several actor calls' items written as one group, each call returning once its items are.

Group commit: one write at a time; the calls that arrive while it runs gather into the
next group, which one of them writes when it ends. Nobody waits for company, so a lone
call is written at once, and groups grow exactly as fast as writes fall behind.
"""

import threading
from collections import deque
from collections.abc import Callable
from typing import Any


class GroupFailed(Exception):
    """The group this call's items were written with failed; the call should be retried."""


class _Group:
    def __init__(self) -> None:
        self.items: list[Any] = []
        self.written = False
        self.error: BaseException | None = None


class GroupCommit:
    def __init__(self, write: Callable[[list[Any]], None], max_items: int):
        self._write = write
        self._max_items = max_items
        self._changed = threading.Condition()
        self._waiting: deque[_Group] = deque()
        self._writing = False

    def submit(self, items: list[Any]) -> None:
        """Have ``items`` written, with whatever else is waiting; returns once they are."""
        with self._changed:
            group = self._join(len(items))
            group.items.extend(items)
            while not (group.written or self._may_write(group)):
                self._changed.wait()
            if group.written:  # by another call of the group
                if group.error is not None:
                    raise GroupFailed(str(group.error)) from group.error
                return
            self._waiting.popleft()
            self._writing = True
        try:
            self._write(group.items)
        except BaseException as error:
            group.error = error
            raise
        finally:
            with self._changed:
                group.written, self._writing = True, False
                self._changed.notify_all()

    def _may_write(self, group: _Group) -> bool:
        return not self._writing and self._waiting[0] is group

    def _join(self, count: int) -> _Group:
        last = self._waiting[-1] if self._waiting else None
        if last is None or (last.items and len(last.items) + count > self._max_items):
            last = _Group()
            self._waiting.append(last)
        return last
