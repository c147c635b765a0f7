"""The suppression list: addresses no campaign sends to, whoever they belong to.

Addresses are kept normalised (trimmed, lower case), so ``Ann@Example.com`` and
``ann@example.com`` are one entry, and a customer's e-mail matches whatever its case.
"""

from pymongo import UpdateOne

from crm.clock import utcnow
from crm.documents import Suppression
from crm.services import pages
from crm.services.errors import NotFound

BY_ADDRESS = pages.Ordering((pages.Key("_id", "address", 1, str),))
MAX_BULK = 1000


def normalise(address: str) -> str:
    return address.strip().lower()


def add(address: str, reason: str | None = None) -> tuple[Suppression, bool]:
    """Suppress ``address``; returns its entry and whether it is new (a repeat keeps the
    first entry's reason and time)."""
    added = add_many([address], reason) == 1
    return get(address), added


def add_many(addresses: list[str], reason: str | None = None) -> int:
    """Suppress each of ``addresses`` in one write; returns how many were not already."""
    now = utcnow()
    unique = sorted({normalise(address) for address in addresses})
    if not unique:
        return 0
    writes = [
        UpdateOne(
            {"_id": address},
            {"$setOnInsert": {"reason": reason, "created_at": now}},
            upsert=True,
        )
        for address in unique
    ]
    return Suppression._get_collection().bulk_write(writes, ordered=False).upserted_count


def find(address: str) -> Suppression | None:
    """The entry suppressing ``address`` (in any case), if there is one."""
    return Suppression.objects(address=normalise(address)).first()


def get(address: str) -> Suppression:
    found = find(address)
    if found is None:
        raise NotFound("That address is not suppressed.")
    return found


def remove(address: str) -> None:
    removed = Suppression._get_collection().delete_one({"_id": normalise(address)})
    if removed.deleted_count == 0:
        raise NotFound("That address is not suppressed.")


def page(request: pages.Request) -> pages.Page:
    """A page of the list in address order."""
    found = Suppression.objects
    return pages.read(found, BY_ADDRESS, request, pages.unfiltered_estimate(found))
