"""Pages of a list in a fixed order whose cost does not grow with the list.

Every list is ordered by keys ending in a unique one (``customer_id``, ``_id``), each
order backed by an index. A page is one indexed ``find`` of ``size + 1`` documents
(the extra one tells whether there is a next page), starting either after a cursor —
the previous page's last keys, opaque to the client — or, for numbered pages, after
skipping at most ``MAX_SKIPPED`` documents. Totals are not counted unless asked for,
and then under the query time limit like every other query here.
"""

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId, json_util
from bson.errors import InvalidId
from mongoengine import QuerySet
from pymongo.errors import ExecutionTimeout

from crm import db
from crm.services.errors import InvalidInput, QueryTooSlow

# The most documents a numbered page may skip: deeper pages are read by cursor.
BAD = "Not a cursor this list gave (pass the `after` of its previous page)."


@dataclass(frozen=True)
class Key:
    field: str  # as stored
    attribute: str  # as MongoEngine names it
    direction: int  # 1 ascending, -1 descending
    kind: type


@dataclass(frozen=True)
class Ordering:
    keys: tuple[Key, ...]

    def sort(self) -> list[str]:
        """The order as MongoEngine's ``order_by`` takes it."""
        return [("-" if key.direction < 0 else "") + key.attribute for key in self.keys]

    def cursor(self, document: Any) -> str:
        values = [getattr(document, key.attribute) for key in self.keys]
        text = json_util.dumps(values, json_options=json_util.CANONICAL_JSON_OPTIONS)
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    def values(self, cursor: str) -> list[Any]:
        """The keys a cursor holds; InvalidInput for anything this ordering did not make."""
        try:
            text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            values = json_util.loads(text)
        except (ValueError, binascii.Error, InvalidId, TypeError):
            values = None
        kinds_match = isinstance(values, list) and len(values) == len(self.keys)
        if not kinds_match or not all(
            type(value) is key.kind for key, value in zip(self.keys, values, strict=True)
        ):
            raise InvalidInput("The `after` cursor is not valid.", {"after": [BAD]})
        return values

    def after(self, values: list[Any]) -> dict[str, Any]:
        """The filter for documents past ``values`` in this order: one ``$or`` branch per
        key, each an equality prefix and one range, so every branch has tight index bounds
        and the server merges them in index order."""
        branches = []
        for at, key in enumerate(self.keys):
            equal = zip(self.keys[:at], values[:at], strict=True)
            branch: dict[str, Any] = {k.field: v for k, v in equal}
            branch[key.field] = {"$gt" if key.direction > 0 else "$lt": values[at]}
            branches.append(branch)
        return branches[0] if len(branches) == 1 else {"$or": branches}


def _key(field: str, direction: int, kind: type, attribute: str | None = None) -> Key:
    return Key(field, attribute or ("id" if field == "_id" else field), direction, kind)


BY_CUSTOMER_ID = Ordering((_key("customer_id", 1, str),))
NEWEST_ORDERS = Ordering((_key("order_date", -1, datetime), _key("_id", -1, ObjectId)))
NEWEST_CREATED = Ordering((_key("created_at", -1, datetime), _key("_id", -1, ObjectId)))
OLDEST_ID = Ordering((_key("_id", 1, ObjectId),))


@dataclass(frozen=True)
class Request:
    """What a client asked of a list: a page size, then a cursor or a page number, and
    whether to count the total."""

    page_size: int = 10
    page: int = 1
    after: str | None = None
    count: bool = False

    @classmethod
    def take(cls, query: dict[str, Any]) -> "Request":
        """Remove the paging arguments from ``query`` (what is left are its filters)."""
        names = ("page_size", "page", "after", "count")
        return cls(**{name: query.pop(name) for name in names if name in query})


@dataclass(frozen=True)
class Page:
    items: list[Any]
    request: Request
    next_after: str | None
    total: int | None = None
    total_is: str | None = None  # "exact" when counted, "estimated" otherwise

    @property
    def has_next(self) -> bool:
        return self.next_after is not None


def read(
    found: QuerySet,
    ordering: Ordering,
    request: Request,
    estimate: Callable[[], int | None] | None = None,
) -> Page:
    """One page of ``found`` (filtered, not yet ordered) as ``request`` asks.

    ``estimate`` gives the total without counting (e.g. from kept counters) when the
    client did not ask for an exact count; None where no cheap figure exists.
    """
    limit = db.query_timeout_ms()
    page = found.order_by(*ordering.sort()).max_time_ms(limit)
    if request.after is not None:
        page = page.filter(__raw__=ordering.after(ordering.values(request.after)))
    else:
        page = page.skip((request.page - 1) * request.page_size)
    items = list(page.limit(request.page_size + 1))
    more = len(items) > request.page_size
    items = items[: request.page_size]
    next_after = ordering.cursor(items[-1]) if more else None
    if request.count:
        return Page(items, request, next_after, _count(found, limit), "exact")
    total = estimate() if estimate else None
    return Page(items, request, next_after, total, None if total is None else "estimated")


def _count(found: QuerySet, limit: int) -> int:
    try:
        return found._collection.count_documents(found._query, maxTimeMS=limit)
    except ExecutionTimeout:
        message = f"Counting took longer than the {limit:,} ms limit."
        raise QueryTooSlow(message, {"count": [f"{message} Leave it out."]}) from None


def unfiltered_estimate(found: QuerySet) -> Callable[[], int | None]:
    """The collection's size from its metadata (no scan) when ``found`` has no filter."""

    def estimate() -> int | None:
        if found._query:
            return None
        return found._collection.estimated_document_count(maxTimeMS=db.query_timeout_ms())

    return estimate
