"""Audience members a campaign does not send to, decided a page at a time inside the
page's transaction: each gets a SKIPPED log with its reason instead of a message.

- ``opted_out``: the customer opted out (a field read with the page, no query);
- ``suppressed``: the customer's address is on the suppression list (one query a page,
  on the list's key, for the page's addresses);
- ``frequency_cap``: the customer already had the cap's number of contacts within its
  window (one query a page on the contact ledger, and one write for those contacted).

A message that waits after its page was screened (a local send time, quiet hours, a
backlog, a vendor outage) is screened again for opt-outs and suppressions just before it
is sent (``unreachable_now``): its PENDING log becomes SKIPPED.

A message apart from any campaign (a test message) is refused on the same grounds
(``refusal``), the cap being the settings' one; it adds no contact, as it is not part of
what the cap limits: the campaigns a customer receives.

A held-out member over the cap is SKIPPED as a messaged one would be, so that the holdout
and the messaged members are drawn from the same eligible audience; it adds no contact.

A contact is a PENDING (or WAITING: sent the winning variant later) log of a campaign the
cap applies to: a message the CRM will try to send, counted when it is made (whatever the
vendor later does with it), and taken back if the CRM never sends it (its campaign
cancelled, or its recipient unreachable by then: ``contacts.refund``). A campaign with no
cap (``ignore_frequency_cap``, or none set) neither checks nor adds contacts.

Correct under concurrent campaigns: each contacted customer's ledger is written with a
condition on the version read, in the same transaction as the page's logs. Two pages
contacting one customer at once cannot both commit: MongoDB fails one with a write
conflict, or its condition finds the version moved; either way it runs again and reads
the other's contact.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo.client_session import ClientSession

from crm.documents import Campaign, MessageStatus
from crm.documents.contact import MAX_CAP_DAYS
from crm.services import consent
from crm.services.suppressions import normalise
from crm.store import contacts

# What screening reads of each customer, beside the template's variables.
FIELDS = {"opted_out": 1}
CAPPED = (MessageStatus.PENDING, MessageStatus.WAITING, MessageStatus.HELD_OUT)
CONTACTED = (MessageStatus.PENDING, MessageStatus.WAITING)
RESCREEN_AFTER = timedelta(minutes=1)


@dataclass
class Screening:
    """A page's decisions; ``record`` writes the contacts it made, after its logs."""

    at: datetime
    ledger_writes: list[contacts.LedgerWrite] = field(default_factory=list)

    def record(self, session: ClientSession) -> None:
        contacts.write_ledgers(self.ledger_writes, self.at, session)


def cap_for(campaign: Campaign) -> consent.Cap | None:
    if campaign.ignore_frequency_cap:
        return None
    own = campaign.frequency_cap
    return consent.Cap(own.messages, own.days) if own else consent.policy().cap


def screen(
    campaign: Campaign,
    page: list[dict[str, Any]],
    entries: list[dict[str, Any]],
    now: datetime,
    session: ClientSession,
) -> Screening:
    """Turn the logs (``entries``, one per customer of ``page``) of members not to be
    sent to into SKIPPED ones."""
    addresses = sorted({normalise(customer["email"]) for customer in page})
    suppressed = contacts.suppressed_among(addresses, session)
    for customer, entry in zip(page, entries, strict=True):
        if customer.get("opted_out"):
            _skip(entry, "opted_out")
        elif normalise(customer["email"]) in suppressed:
            _skip(entry, "suppressed")
    cap = cap_for(campaign)
    if cap is None:
        return Screening(now)
    return Screening(now, _apply_cap(cap, campaign.id, entries, now, session))


def _apply_cap(
    cap: consent.Cap,
    campaign_id: ObjectId,
    entries: list[dict[str, Any]],
    now: datetime,
    session: ClientSession,
) -> list[contacts.LedgerWrite]:
    eligible = [entry for entry in entries if entry["status"] in CAPPED]
    ledgers = contacts.ledgers([entry["customer_id"] for entry in eligible], session)
    kept_since = now - timedelta(days=MAX_CAP_DAYS)
    contact = {"at": now, "campaign_id": campaign_id}
    writes = []
    for entry in eligible:
        ledger = ledgers.get(entry["customer_id"], {})
        kept = [
            c
            for c in ledger.get("contacts", [])
            if c["at"] > kept_since and c["campaign_id"] != campaign_id
        ]
        if _over(cap, kept, now):
            _skip(entry, "frequency_cap")
        elif entry["status"] in CONTACTED:
            writes.append((entry["customer_id"], ledger.get("version", 0), [*kept, contact]))
    return writes


def _over(cap: consent.Cap, kept: list[dict[str, Any]], now: datetime) -> bool:
    window_start = now - timedelta(days=cap.days)
    return sum(c["at"] > window_start for c in kept) >= cap.messages


def refusal(customer: dict[str, Any], now: datetime) -> str | None:
    """Why one message apart from any campaign may not go to ``customer`` (its
    ``customer_id``, ``email`` and ``opted_out``): ``opted_out``, ``suppressed`` or
    ``frequency_cap``; None if it may."""
    if customer.get("opted_out"):
        return "opted_out"
    if contacts.suppressed_among([normalise(customer["email"])]):
        return "suppressed"
    cap = consent.policy().cap
    ledger = contacts.ledgers([customer["customer_id"]]).get(customer["customer_id"], {})
    if cap is not None and _over(cap, ledger.get("contacts", []), now):
        return "frequency_cap"
    return None


def unreachable_now(
    chunk: dict[str, Any], pending: list[dict[str, Any]], now: datetime
) -> dict[str, list[ObjectId]]:
    """Of a chunk's PENDING logs about to be sent, those whose customer opted out or whose
    address was suppressed since, by reason; none if the chunk has not waited. All of them
    (``local_time_passed``) once the chunk is past its ``send_by``: its members' local send
    time passed longer ago than their campaign allows."""
    if pending and chunk.get("send_by") is not None and now > chunk["send_by"]:
        return {"local_time_passed": [log["_id"] for log in pending]}
    if now - chunk["created_at"] < RESCREEN_AFTER or not pending:
        return {}
    opted_out = contacts.opted_out_among(sorted({log["customer_id"] for log in pending}))
    suppressed = contacts.suppressed_among(sorted({normalise(log["to"]) for log in pending}))
    unreachable: dict[str, list[ObjectId]] = {}
    for log in pending:
        if log["customer_id"] in opted_out:
            unreachable.setdefault("opted_out", []).append(log["_id"])
        elif normalise(log["to"]) in suppressed:
            unreachable.setdefault("suppressed", []).append(log["_id"])
    return unreachable


def _skip(entry: dict[str, Any], reason: str) -> None:
    entry.update(status=str(MessageStatus.SKIPPED), reason=reason, message="")
