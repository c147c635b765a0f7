"""Consent: customers opted out of campaigns, the signed one-click unsubscribe link a
message may carry (``{{ unsubscribe_url }}``), and the frequency cap the settings set.

A link names its campaign and customer and carries an HMAC-SHA256 of both, made with a
server secret: it never expires, and a link whose signature does not match (edited,
forged) changes nothing. Opting out is idempotent.
"""

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from bson import ObjectId

from crm import config
from crm.clock import utcnow
from crm.config import Settings
from crm.documents import Customer
from crm.documents.contact import MAX_CAP_DAYS
from crm.services import templates
from crm.services.errors import NotFound

LINK_PATH = "/unsubscribe"
# The API's address under `make run`, for links made where no setting names one.
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
# Receipts and links are signed with keys derived apart from one shared secret, so one
# signature can never stand for the other.
_LINK_KEY_LABEL = b"crm unsubscribe links"


@dataclass(frozen=True)
class Cap:
    """At most ``messages`` per customer in any ``days`` days."""

    messages: int
    days: int


@dataclass(frozen=True)
class Policy:
    cap: Cap | None = None
    link_key: bytes | None = None
    link_base_url: str = DEFAULT_BASE_URL


class LinkUnavailable(RuntimeError):
    """No secret is configured to sign unsubscribe links with."""


_policy = Policy()


def configure(settings: Settings) -> None:
    """Take this process's frequency cap and link settings (at boot, with the broker)."""
    global _policy
    cap = None
    if settings.frequency_cap_messages > 0:
        if not 1 <= settings.frequency_cap_days <= MAX_CAP_DAYS:
            raise config.InvalidSetting(
                "frequency_cap_days", f"expected a whole number from 1 to {MAX_CAP_DAYS}"
            )
        cap = Cap(settings.frequency_cap_messages, settings.frequency_cap_days)
    base = settings.link_base_url or settings.public_url or DEFAULT_BASE_URL
    _policy = Policy(cap, _link_key(settings), base.rstrip("/"))


def policy() -> Policy:
    return _policy


def _link_key(settings: Settings) -> bytes | None:
    if settings.unsubscribe_secret:
        return settings.unsubscribe_secret.encode()
    if settings.receipt_signing_secret:
        secret = settings.receipt_signing_secret.encode()
        return hmac.new(secret, _LINK_KEY_LABEL, hashlib.sha256).digest()
    return None


def _signature(key: bytes, campaign_id: str, customer_id: str) -> str:
    mac = hmac.new(key, f"{campaign_id}/{customer_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def unsubscribe_url(campaign_id: ObjectId, customer_id: str) -> str:
    key = _policy.link_key
    if key is None:
        raise LinkUnavailable("set CRM_UNSUBSCRIBE_SECRET or CRM_RECEIPT_SIGNING_SECRET")
    signature = _signature(key, str(campaign_id), customer_id)
    return f"{_policy.link_base_url}{LINK_PATH}/{campaign_id}/{customer_id}/{signature}"


def with_unsubscribe_url(
    customer: dict[str, Any], campaign_id: ObjectId, message: str
) -> dict[str, Any]:
    """``customer`` with its link for the template's ``unsubscribe_url``, if it uses it."""
    if not templates.uses(message, "unsubscribe_url"):
        return customer
    return {**customer, "unsubscribe_url": unsubscribe_url(campaign_id, customer["customer_id"])}


def link_is_genuine(campaign_id: str, customer_id: str, signature: str) -> bool:
    key = _policy.link_key
    if key is None:
        return False
    expected = _signature(key, campaign_id, customer_id)
    return hmac.compare_digest(expected.encode(), signature.encode())


def unsubscribe(campaign_id: str, customer_id: str, signature: str) -> None:
    """Opt the link's customer out; NotFound if the link is not one this server signed
    (or its customer is gone)."""
    if not link_is_genuine(campaign_id, customer_id, signature):
        raise NotFound("This unsubscribe link is not valid.")
    set_opted_out(customer_id, True)


def set_opted_out(customer_id: str, opted_out: bool) -> None:
    """Opt the customer out (or back in); a repeat changes nothing."""
    customers = Customer._get_collection()
    changed = customers.update_one(
        {"customer_id": customer_id, "opted_out": {"$ne": opted_out}},
        {"$set": {"opted_out": opted_out, "updated_at": utcnow()}},
    )
    if not changed.matched_count and not customers.find_one(
        {"customer_id": customer_id}, {"_id": 1}
    ):
        raise NotFound(f"No customer with customer_id {customer_id!r}.")
