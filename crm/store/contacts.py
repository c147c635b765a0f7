"""Queries on who may be contacted: the suppression list and the contact ledger, read a
page of customers at a time inside the materialising transaction."""

from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import UpdateOne
from pymongo.client_session import ClientSession
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError

from crm.documents import ContactLedger, Customer, Suppression
from crm.store.bulk import DUPLICATE_KEY
from crm.store.transaction import ReadChanged

# (customer_id, the ledger version read, 0 for none, the contacts to keep: {at, campaign_id})
LedgerWrite = tuple[str, int, list[dict[str, Any]]]


def _suppressions() -> Collection:
    return Suppression._get_collection()


def _ledgers() -> Collection:
    return ContactLedger._get_collection()


def suppressed_among(addresses: list[str], session: ClientSession | None = None) -> set[str]:
    """Which of ``addresses`` (normalised) are suppressed: one query on the key."""
    if not addresses:
        return set()
    found = _suppressions().find(
        {"_id": {"$in": addresses}},
        {"_id": 1},
        batch_size=len(addresses),
        limit=len(addresses),
        session=session,
    )
    return {entry["_id"] for entry in found}


def opted_out_among(customer_ids: list[str]) -> set[str]:
    """Which of ``customer_ids`` have opted out: one query on the unique key."""
    if not customer_ids:
        return set()
    found = Customer._get_collection().find(
        {"customer_id": {"$in": customer_ids}, "opted_out": True},
        {"customer_id": 1},
        batch_size=len(customer_ids),
        limit=len(customer_ids),
    )
    return {customer["customer_id"] for customer in found}


def ledgers(
    customer_ids: list[str], session: ClientSession | None = None
) -> dict[str, dict[str, Any]]:
    """The ledgers of those of ``customer_ids`` that have one, by customer_id."""
    if not customer_ids:
        return {}
    found = _ledgers().find(
        {"_id": {"$in": customer_ids}},
        {"contacts": 1, "version": 1},
        batch_size=len(customer_ids),
        limit=len(customer_ids),
        session=session,
    )
    return {entry["_id"]: entry for entry in found}


def write_ledgers(writes: list[LedgerWrite], at: datetime, session: ClientSession) -> None:
    """Replace each ledger's contacts if it is still at the version read (creating it if
    there was none); ReadChanged if another writer got there first."""
    if not writes:
        return
    statements = [
        UpdateOne(
            {"_id": customer_id, "version": version},
            {"$set": {"contacts": contacts, "updated_at": at}, "$inc": {"version": 1}},
            upsert=True,
        )
        for customer_id, version, contacts in writes
    ]
    try:
        result = _ledgers().bulk_write(statements, ordered=False, session=session)
    except BulkWriteError as error:
        if error.has_error_label("TransientTransactionError"):
            raise
        if all(e["code"] == DUPLICATE_KEY for e in error.details["writeErrors"]):
            raise ReadChanged from None  # a ledger made or moved on since it was read
        raise
    if result.matched_count + result.upserted_count != len(writes):
        raise ReadChanged


def refund(campaign_id: ObjectId, customer_ids: list[str], session: ClientSession) -> None:
    """Take the campaign's contact off these customers' ledgers (its message will never be
    sent); moving their version, so a writer that read them before reads again."""
    if customer_ids:
        _ledgers().update_many(
            {"_id": {"$in": customer_ids}, "contacts.campaign_id": campaign_id},
            {"$pull": {"contacts": {"campaign_id": campaign_id}}, "$inc": {"version": 1}},
            session=session,
        )
