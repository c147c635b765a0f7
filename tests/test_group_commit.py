"""Receipts from several queue messages are written together, and never acknowledged early."""

import threading
import time

import pytest

from workers.group_commit import GroupCommit, GroupFailed


def submit_all(group, batches):
    errors = []

    def submit(batch):
        try:
            group.submit(batch)
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=submit, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return errors


def test_concurrent_calls_share_writes_and_each_item_is_written_once():
    writes = []
    group = GroupCommit(writes.append, max_items=1000, max_wait=0.2)
    batches = [[f"{i}-{j}" for j in range(10)] for i in range(8)]

    assert submit_all(group, batches) == []
    assert len(writes) < len(batches)
    written = sorted(item for write in writes for item in write)
    assert written == sorted(item for batch in batches for item in batch)


def test_a_full_group_is_written_without_waiting():
    writes = []
    group = GroupCommit(writes.append, max_items=5, max_wait=30)
    start = time.monotonic()
    group.submit(list(range(5)))
    assert time.monotonic() - start < 5 and writes == [[0, 1, 2, 3, 4]]


def test_a_call_returns_only_after_its_items_are_written():
    written = threading.Event()

    def slow_write(items):
        time.sleep(0.3)
        written.set()

    group = GroupCommit(slow_write, max_items=100, max_wait=0.05)
    group.submit(["a"])
    assert written.is_set()


def test_a_failed_write_fails_every_call_in_the_group():
    def failing_write(items):
        time.sleep(0.1)
        raise RuntimeError("database down")

    group = GroupCommit(failing_write, max_items=1000, max_wait=0.3)
    errors = submit_all(group, [["a"], ["b"], ["c"]])
    assert len(errors) == 3
    assert {type(error) for error in errors} <= {RuntimeError, GroupFailed}
    with pytest.raises(RuntimeError):
        group.submit(["d"])
