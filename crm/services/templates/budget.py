"""What one render may spend: time, loop iterations, and the size of any value it makes
and of its output. Every bounded operation checks here before it runs, so a render stops
within one bounded step of going over."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

# Longer than any SMS or e-mail body a vendor takes: the most a message (or any value a
# template makes on the way) may hold, in characters or items.
MAX_CHARS = 100_000
# About 3,000 digits: far more than any amount, and quick to multiply and print.
MAX_INT_BITS = 10_000
MAX_ITERATIONS = 10_000
MAX_SECONDS = 0.5


class TooCostly(Exception):
    """A step that would take a render past its budget; raised before the step runs."""


@dataclass
class Budget:
    deadline: float
    iterations: int = 0
    written: int = 0

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise TooCostly(f"the message took longer than {MAX_SECONDS} s to render")

    def count_iteration(self) -> None:
        self.iterations += 1
        if self.iterations > MAX_ITERATIONS:
            raise TooCostly(f"loops ran more than {MAX_ITERATIONS:,} times in all")
        self.check_time()

    def count_output(self, characters: int) -> None:
        self.written += characters
        if self.written > MAX_CHARS:
            raise TooCostly(f"the message would be longer than {MAX_CHARS:,} characters")


_current: ContextVar[Budget | None] = ContextVar("template_budget", default=None)


@contextmanager
def spending() -> Iterator[Budget]:
    """A fresh budget for the render run inside this block (per thread, per render)."""
    token = _current.set(Budget(time.monotonic() + MAX_SECONDS))
    try:
        yield current()
    finally:
        _current.reset(token)


def current() -> Budget:
    budget = _current.get()
    if budget is None:  # only ``render`` runs templates, inside ``spending``
        raise TooCostly("a template ran outside a render's budget")
    return budget


def size(value: Any) -> int:
    """About how many characters ``value`` prints as: strings by length, containers by
    their items (shared ones counted each time they appear). Stops past MAX_CHARS."""
    total = 0
    pending = [value]
    while pending and total <= MAX_CHARS:
        item = pending.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 1
        elif isinstance(item, dict | list | tuple | set | frozenset):
            total += 2 + 2 * len(item)
            if total <= MAX_CHARS:
                pending.extend(item.items() if isinstance(item, dict) else item)
        else:
            total += 32
    return total


def check_size(value: Any, what: str) -> None:
    if size(value) > MAX_CHARS:
        raise TooCostly(f"{what} would be longer than {MAX_CHARS:,} characters")
