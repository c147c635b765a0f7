"""A worker killed mid-send holds its campaign up for seconds, not minutes: through real
processes with default settings (``bench.crash``; ``make bench`` runs it at 20,000)."""

import pytest

from bench import crash

pytestmark = pytest.mark.system

# What an operator who changed nothing is promised: a dead worker's work is handed out
# again within this long (15 s of silence, then at most one beat of 3.75 s).
TAKEN_UP_WITHIN_SECONDS = 30
MEMBERS = 2000


def test_a_killed_workers_chunks_messages_and_materialisation_are_taken_up_again(settings, api_key):
    # Given a campaign being materialised and sent, rate limited so that it outlasts the
    # recovery, when its only worker is SIGKILLed while it holds a leased chunk, queued
    # chunks, the materialisation mid-way and receipts, and is started again 5 s later:
    recovery = crash.run(
        settings.mongodb_uri,
        MEMBERS,
        api_key,
        kill_at=10,
        rate=200,
        chunk_size=10,
        timeout=300,
        vendor_answers_after=0.2,  # so the worker is killed mid-request, holding its lease
    )
    print(crash.table([("kill", recovery)]))

    held = recovery.held
    assert held.leased and held.materializing, held
    assert {"deliveries", "receipts", "campaigns"} <= set(held.by_queue), held
    # Then everything it held is handed out again within the bound …
    assert held.all_moved(), held
    assert recovery.all_moved_after is not None
    assert recovery.all_moved_after <= TAKEN_UP_WITHIN_SECONDS, recovery
    # … and the campaign completes with nothing delivered twice and exact counts.
    report = recovery.report
    assert report is not None and report.promises_held(), report
    assert report.vendor["deliveries"] == MEMBERS
