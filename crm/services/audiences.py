"""Saved audiences: a rule tree with its last computed size, and previews before saving."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ReadPreference
from pymongo.errors import ExecutionTimeout

from crm import db
from crm.clock import utcnow
from crm.documents import Audience, Campaign, CampaignStatus, Customer
from crm.services import attribute_keys, once, pages, segments
from crm.services.errors import Conflict, NotFound, QueryTooSlow

SAMPLE_SIZE = 10
IN_FLIGHT = [CampaignStatus.SCHEDULED, CampaignStatus.SENDING, CampaignStatus.PAUSED]


def create(data: dict[str, Any]) -> Audience:
    """Save ``data`` (``rules``: the tree, and maybe ``name``) with its size as of now."""
    return create_once(ObjectId(), data)[0]


def create_once(audience_id: ObjectId, data: dict[str, Any]) -> tuple[Audience, bool]:
    """Create the audience with the id its form was given, once: the same id again (the
    form sent twice) returns the audience it made, and False."""
    tree, now = segments.validate(data["rules"]), _now()
    audience = Audience(
        id=audience_id, name=data.get("name"), rules=tree, created_at=now, updated_at=now
    )
    audience.size, audience.computed_at = count(tree, now), now
    return once.insert(audience)


def get(audience_id: ObjectId | str) -> Audience:
    try:
        audience = Audience.objects(id=ObjectId(audience_id)).first()
    except (InvalidId, TypeError):
        audience = None
    if audience is None:
        raise NotFound(f"No audience with id {audience_id}.")
    return audience


def page(request: pages.Request) -> pages.Page:
    found = Audience.objects
    return pages.read(found, pages.NEWEST_CREATED, request, pages.unfiltered_estimate(found))


def update(audience_id: ObjectId | str, data: dict[str, Any]) -> Audience:
    """Rename, or change the logic and/or rules; changed rules are counted again."""
    audience, now = get(audience_id), _now()
    if "name" in data:
        audience.name = data["name"]
    if "rules" in data:
        audience.rules = segments.validate({**audience.rules, **data["rules"]})
        audience.size, audience.computed_at = count(audience.rules, now), now
    audience.updated_at = now
    return audience.save()


def delete(audience_id: ObjectId | str) -> None:
    """Delete the audience, unless a campaign is sending to it (or paused, to resume)."""
    audience = get(audience_id)
    in_flight = Campaign.objects(audience_id=audience.id, status__in=IN_FLIGHT).only("id")
    if in_flight.first():
        raise Conflict(f"A campaign is sending to audience {audience.id}; it cannot be deleted.")
    audience.delete()


def refresh(audience_id: ObjectId | str) -> Audience:
    """Count the audience's members again, as of now."""
    audience, now = get(audience_id), _now()
    audience.size, audience.computed_at = count(audience.rules, now), now
    return audience.save()


def members_now(audience_id: ObjectId | str) -> int:
    """The saved audience's members counted as of now (its stored size may be stale)."""
    return count(get(audience_id).rules, _now())


def _now() -> datetime:
    """Now to the millisecond, as MongoDB stores it, so a response equals a later read."""
    now = utcnow()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def count(tree: dict[str, Any], now: datetime) -> int:
    """Members as of ``now``, counted by the database in one command."""
    with _time_limited():
        return Customer._get_collection().count_documents(
            segments.to_filter(tree, now), maxTimeMS=db.query_timeout_ms()
        )


@contextmanager
def _time_limited() -> Iterator[None]:
    """A rule's query past the time limit as the error that says how to narrow it."""
    try:
        yield
    except ExecutionTimeout:
        indexed = ", ".join(segments.indexed_fields())
        message = (
            f"The rule matched too slowly (past the {db.query_timeout_ms():,} ms limit); "
            f"narrow it with a rule on an indexed field ({indexed})."
        )
        raise QueryTooSlow(message, {"rules": [message]}) from None


def preview(tree: dict[str, Any]) -> dict[str, Any]:
    """Size, first members and summary of an unsaved tree, from one database command.

    The sample shows each member's name and email and the values of the fields the
    rules use (order aggregates over the rule's window).
    """
    tree, now = segments.validate(tree), _now()
    columns = segments.columns(tree, now)
    aliases = {f"c{i}": label for i, label in enumerate(columns)}
    projection = {"_id": 0, **dict.fromkeys(segments.ALWAYS, 1)}
    projection.update({alias: columns[label] for alias, label in aliases.items()})
    sample = [{"$sort": {"_id": 1}}, {"$limit": SAMPLE_SIZE}, {"$project": projection}]
    pipeline = [
        {"$match": segments.to_filter(tree, now)},
        {"$facet": {"size": [{"$count": "n"}], "sample": sample}},
    ]
    # A preview may be a little stale: it reads from a secondary where there is one.
    customers = Customer._get_collection().with_options(
        read_preference=ReadPreference.SECONDARY_PREFERRED
    )
    with _time_limited():
        (result,) = customers.aggregate(pipeline, maxTimeMS=db.query_timeout_ms())
    members = []
    for row in result["sample"]:
        member = {key: row.get(key) for key in segments.ALWAYS}
        member.update({label: row.get(alias) for alias, label in aliases.items()})
        members.append(member)
    size = result["size"][0]["n"] if result["size"] else 0
    return {"size": size, "sample": members, "summary": segments.summarize(tree)}


def catalog() -> dict[str, Any]:
    """The rule fields with their operators, and the attribute keys customers carry."""
    return {"fields": segments.describe(), "attributes": attribute_keys.listing()}


def first_members(audience_id: ObjectId | str, limit: int = 3) -> list[dict[str, Any]]:
    """The audience's first ``limit`` customers by ``_id``, as stored (for rendering a
    message to them)."""
    tree = get(audience_id).rules
    found = Customer._get_collection().find(
        segments.to_filter(tree, _now()), {"order_days": 0}, max_time_ms=db.query_timeout_ms()
    )
    with _time_limited():
        return list(found.sort("_id", 1).limit(limit))
