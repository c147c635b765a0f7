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


def slow(write, seconds=0.05):
    def slow_write(items):
        time.sleep(seconds)
        write(items)

    return slow_write


def test_calls_arriving_during_a_write_share_the_next_one():
    writes = []
    group = GroupCommit(slow(writes.append), max_items=1000)
    batches = [[f"{i}-{j}" for j in range(10)] for i in range(8)]

    assert submit_all(group, batches) == []
    assert len(writes) < len(batches)
    written = sorted(item for write in writes for item in write)
    assert written == sorted(item for batch in batches for item in batch)


def test_a_group_holds_at_most_max_items():
    writes = []
    group = GroupCommit(slow(writes.append), max_items=20)
    assert submit_all(group, [[i] * 10 for i in range(8)]) == []
    assert max(len(write) for write in writes) <= 20 and sum(map(len, writes)) == 80


def test_a_lone_call_is_written_at_once_and_returns_after_it():
    writes = []
    GroupCommit(writes.append, max_items=100).submit(["a"])
    assert writes == [["a"]]


def test_a_failed_write_fails_every_call_in_the_group():
    def failing_write(items):
        time.sleep(0.1)
        raise RuntimeError("database down")

    group = GroupCommit(failing_write, max_items=1000)
    errors = submit_all(group, [["a"], ["b"], ["c"]])
    assert len(errors) == 3
    assert {type(error) for error in errors} <= {RuntimeError, GroupFailed}
    with pytest.raises(RuntimeError):
        group.submit(["d"])
