"""A campaign's message tried on one customer: rendered for them and sent through the
vendor once, whatever the retries.

The sender names each attempt with an idempotency key. The first request with a key
records it before calling the vendor; any later request with the same key (a double
click, a retry after a lost answer) gets that record back and sends nothing, so a key is
sent at most once. A key reused for another customer or text is a conflict.

A test message is not part of any campaign: no communication log, no campaign counts.
It is kept in ``test_messages``; the vendor's receipt for it names no campaign message
and is skipped like any unknown receipt.

It goes only to a customer a campaign would send to: one opted out, whose address is
suppressed, or who is at the frequency cap is refused (409, naming the reason) and
nothing is sent. It adds no contact to the cap.
"""

import re
from dataclasses import dataclass

from mongoengine import NotUniqueError

from crm.clock import utcnow
from crm.documents import Customer, TestMessage, TestMessageStatus
from crm.services import templates
from crm.services.errors import Conflict, InvalidInput, Unavailable
from crm.services.sending import exclusions
from crm.vendor import OutboundMessage, VendorClient, VendorRejected, VendorUnavailable

RECEIPTS_PATH = "/api/sendCampaign/deliveryReceipts"
KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")
REFUSALS = {
    "opted_out": "they opted out of campaigns",
    "suppressed": "their address is on the suppression list",
    "frequency_cap": "they have had as many messages as the frequency cap allows",
}


@dataclass(frozen=True)
class Vendor:
    """Where the vendor is, and where it sends receipts: the app's settings."""

    url: str
    public_url: str
    timeout: float


def send(
    key: str, customer_id: str, message: str, vendor: Vendor, requested_by: str
) -> TestMessage:
    """The test message under ``key``: sent now if the key is new, else as first recorded."""
    if not KEY.fullmatch(key):
        raise InvalidInput(
            "The idempotency key must be 8 to 64 letters, digits, - or _.",
            {"idempotency_key": ["8 to 64 letters, digits, - or _."]},
        )
    templates.validate(message)
    existing = TestMessage.objects(key=key).first()
    if existing is not None:
        return _same_request(existing, customer_id, message)
    customer = Customer._get_collection().find_one({"customer_id": customer_id}, {"order_days": 0})
    if customer is None:
        raise InvalidInput(
            f"No customer with id {customer_id}.",
            {"customer_id": [f"Unknown customer {customer_id}."]},
        )
    reason = exclusions.refusal(customer, utcnow())
    if reason is not None:
        raise Conflict(
            f"Customer {customer_id} is not sent messages now: {REFUSALS[reason]}.",
            {"customer_id": [f"{reason}: {REFUSALS[reason]}."]},
        )
    body = templates.render(message, customer)
    if not (vendor.url and vendor.public_url):
        raise Unavailable(
            "Test messages need the vendor's address (CRM_VENDOR_URL, CRM_PUBLIC_URL)."
        )
    record = TestMessage(
        key=key,
        customer_id=customer_id,
        to=customer["email"],
        message=message,
        body=body,
        requested_by=requested_by[:254],
    )
    try:
        record.save(force_insert=True)
    except NotUniqueError:  # the same key, sent at the same moment by another request
        return _same_request(TestMessage.objects.get(key=key), customer_id, message)
    status, reason = _deliver(record, vendor)
    TestMessage.objects(id=record.id, status=TestMessageStatus.SENDING).update_one(
        set__status=status, set__reason=reason, set__finished_at=utcnow()
    )
    return record.reload()


def _same_request(existing: TestMessage, customer_id: str, message: str) -> TestMessage:
    if existing.customer_id != customer_id or existing.message != message:
        raise Conflict(
            "This idempotency key was used for another test message.",
            {"idempotency_key": ["Already used for another customer or text."]},
        )
    return existing


def _deliver(record: TestMessage, vendor: Vendor) -> tuple[TestMessageStatus, str | None]:
    outbound = OutboundMessage(str(record.id), record.to, record.body)
    callback = vendor.public_url.rstrip("/") + RECEIPTS_PATH
    try:
        with VendorClient(vendor.url, vendor.timeout) as client:
            [result] = client.send_batch(callback, [outbound])
    except VendorUnavailable as error:
        status = TestMessageStatus.UNKNOWN if error.ambiguous else TestMessageStatus.NOT_SENT
        return status, str(error)[:500]
    except VendorRejected as error:
        return TestMessageStatus.REFUSED, str(error)[:500]
    if result.accepted:
        return TestMessageStatus.ACCEPTED, None
    return TestMessageStatus.REFUSED, result.reason
