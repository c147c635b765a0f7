"""The delivery promise through real processes: a rate-limited campaign that outlasts the
orphan timeout many times over, while workers are killed, Redis restarts with and without
its data, the vendor fails in every way and the API dies mid-receipts (``bench.soak``;
``make bench`` runs it at 100,000 members)."""

import pytest

from bench import soak

pytestmark = pytest.mark.system

MEMBERS = 1500
# The fault run's short vendor timeout, lease and receipt timeout make its faults bite
# quickly; on a busy machine they also bite without faults, which is not what the backlog
# run is about, so it gets production-like ones.
UNHURRIED = {
    "CRM_VENDOR_TIMEOUT_SECONDS": "10",
    "CRM_SEND_LEASE_SECONDS": "120",
    "CRM_RECEIPT_TIMEOUT_SECONDS": "300",
}


def test_every_promise_holds_through_crashes_outages_and_restarts(settings, api_key):
    report = soak.run(settings.mongodb_uri, MEMBERS, rate=50, api_key=api_key, timeout=240)
    print(soak.table([("faults", report)]))

    assert report.promises_held(), report
    assert report.samples > 60
    # Everything met: chunks were leased again after the kills, an unknown outcome was
    # looked up before anything was resent, and the vendor delivered each message once.
    assert report.reconciliation.get("ambiguous_requests", 0) >= 1
    assert report.vendor["lookups"] >= 1
    assert report.vendor["deliveries"] == MEMBERS - report.failed_reasons.get("render_error", 0)
    # Each kill was followed by more sending.
    assert len(report.next_request_after_kills) == 2
    assert None not in report.next_request_after_kills, report.next_request_after_kills


def test_a_backlog_is_never_mistaken_for_lost_work(settings, api_key):
    # 30 s of sending at 50 a second, ten times the orphan timeout: chunks wait in the
    # queue far longer than it, and not one is handed out twice.
    report = soak.run(
        settings.mongodb_uri, MEMBERS, 50, api_key, faults=False, orphan_after=3, env=UNHURRIED
    )

    assert report.promises_held(), report
    assert report.seconds > 8 * 3
    assert report.vendor["messages"] == report.vendor["deliveries"] == MEMBERS
    assert report.vendor["lookups"] == 0 and report.reconciliation == {}, report
