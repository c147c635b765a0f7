"""Inserting documents whose unique keys may exist already, inside a transaction."""

from typing import Any

from pymongo.client_session import ClientSession
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError

DUPLICATE_KEY = 11000


class KeysTaken(Exception):
    """Some documents' unique keys exist already; the transaction is void."""


def insert_new(
    collection: Collection, documents: list[dict[str, Any]], session: ClientSession
) -> None:
    """Insert ``documents`` (copies: the driver adds ``_id``), unordered; KeysTaken if
    any of them has a unique key that exists."""
    if not documents:
        return
    try:
        collection.insert_many([dict(d) for d in documents], ordered=False, session=session)
    except BulkWriteError as error:
        if error.has_error_label("TransientTransactionError"):
            raise
        if all(e["code"] == DUPLICATE_KEY for e in error.details["writeErrors"]):
            raise KeysTaken from None
        raise
