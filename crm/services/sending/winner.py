"""An automatic winner: the variants go to a test share first, the best one to the rest.

::

    materialise: a member outside the test share (a keyed draw of its own, see
        ``assignment``) gets a WAITING log, counted like any status, in no chunk
    decide, once started_at + decide_after_minutes has come and the audience is
        materialised (a delayed queue message, or the sweep): each variant's figures in the
        test share by the metric, the best stored by a conditional update (only while none
        is chosen and the campaign sends), so it is chosen once however many try
    release: the WAITING logs a page at a time, each page one transaction: the winner's
        message rendered → PENDING (SKIPPED if the member opted out or was suppressed
        since, or their local send time passed beyond the campaign's limit) + its chunks +
        counts + the saved position, conditional on the position read

A paused campaign waits (it decides and releases once resumed); a cancelled one has its
WAITING logs cancelled with its chunks (``control.cancel_messages``). The campaign cannot
complete while any log is WAITING.

The decision takes ``now``, so it runs on any clock.
"""

import logging
import time
from collections import Counter
from datetime import datetime
from functools import partial
from typing import Any

from bson import ObjectId
from pymongo.client_session import ClientSession

from crm.clock import utcnow
from crm.documents import Campaign, CampaignStatus, Customer, MessageStatus
from crm.documents.campaign import VariantFigures
from crm.services import attribution, variants
from crm.services.sending import materialize, queue, schedule
from crm.services.suppressions import normalise
from crm.store import campaigns, contacts, logs, transaction

log = logging.getLogger(__name__)

# Delivery statuses of a message the vendor was (or will be) asked to send.
ATTEMPTED = ("PENDING", "ACCEPTED", "SENT", "FAILED")


class LogsMoved(Exception):
    """A waiting log was no longer WAITING inside the release's transaction."""


def step(
    campaign_id: ObjectId,
    now: datetime,
    chunk_size: int,
    enqueue_chunk: queue.EnqueueChunk,
    time_budget: float,
) -> bool:
    """Choose the winner if it is due, then send it to the waiting members for up to
    ``time_budget`` seconds; returns whether there is more to do (the caller runs it again)."""
    campaign = Campaign.objects(id=campaign_id).first()
    if campaign is None or not _due(campaign, now):
        return False
    campaigns.beat(campaign_id)  # the sweep leaves a campaign being worked on alone
    if campaign.winner.chosen is None:
        decide(campaign, now)
        campaign.reload()
        if campaign.winner.chosen is None:  # it stopped sending meanwhile
            return False
    return release(campaign, chunk_size, enqueue_chunk, time_budget)


def _due(campaign: Campaign, now: datetime) -> bool:
    when = variants.decide_at(campaign)
    return (
        when is not None
        and when <= now
        and not campaign.winner.released
        and campaign.status == CampaignStatus.SENDING
        and campaign.materialized
    )


def decide(campaign: Campaign, now: datetime) -> bool:
    """Choose the variant with the best metric in the test share (ties: the earliest),
    recording the figures; returns whether this call chose it (False: it was chosen)."""
    figures = figures_of(campaign)
    best = max(figures, key=lambda found: -1.0 if found.rate is None else found.rate)
    rows = [found.to_mongo().to_dict() for found in figures]
    chose = campaigns.choose_winner(campaign.id, best.name, rows, now)
    if chose:
        log.info(
            "campaign_id=%s winner %s by %s: %s",
            campaign.id,
            best.name,
            campaign.winner.metric,
            ", ".join(f"{f.name} {f.successes}/{f.members}" for f in figures),
        )
    return chose


def figures_of(campaign: Campaign) -> list[VariantFigures]:
    """Each variant's figures for the campaign's metric, from its test share (the only
    members with a variant before the winner is chosen)."""
    found = []
    for variant in attribution.report(campaign.id)["variants"]:
        if campaign.winner.metric == "conversion_rate":
            members = variant["messaged"]["members"]
            successes = variant["messaged"]["conversions"]
        else:
            delivery = variant["delivery"]
            members = sum(delivery.get(status, 0) for status in ATTEMPTED)
            successes = delivery.get("SENT", 0)
        rate = successes / members if members else None
        found.append(
            VariantFigures(name=variant["name"], members=members, successes=successes, rate=rate)
        )
    return found


def release(
    campaign: Campaign, chunk_size: int, enqueue_chunk: queue.EnqueueChunk, time_budget: float
) -> bool:
    """Give the waiting members the winner's message, a page per transaction; returns
    whether there is more to do."""
    started = time.monotonic()
    cursor = campaign.winner.cursor
    while page := logs.in_status_after(campaign.id, MessageStatus.WAITING, cursor, chunk_size):
        made = transaction.run(partial(_release_page, campaign, cursor, page, _customers(page)))
        if made is None:
            log.info("campaign_id=%s stopped releasing (paused or taken)", campaign.id)
            return False
        for chunk in made:
            due = chunk.get("not_before")
            queue.hand_out(
                chunk["_id"], enqueue_chunk, schedule.delay_ms(due, utcnow()) if due else 0
            )
        cursor = page[-1]["_id"]
        if time.monotonic() - started > time_budget:
            return True
    campaigns.mark_released(campaign.id)
    campaigns.complete_if_done(campaign.id)
    log.info(
        "campaign_id=%s winner %s sent to the waiting members", campaign.id, campaign.winner.chosen
    )
    return False


def _customers(page: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    ids = [entry["customer_id"] for entry in page]
    found = Customer._get_collection().find(
        {"customer_id": {"$in": ids}}, materialize.RENDERED_FIELDS, batch_size=len(ids)
    )
    return {customer["customer_id"]: customer for customer in found}


def _release_page(
    campaign: Campaign,
    cursor: ObjectId | None,
    page: list[dict[str, Any]],
    customers: dict[str, dict[str, Any]],
    session: ClientSession,
) -> list[dict[str, Any]] | None:
    now = utcnow()
    [winner] = [v for v in campaign.variants if v.name == campaign.winner.chosen]
    suppressed = contacts.suppressed_among(sorted({normalise(e["to"]) for e in page}), session)
    timing = schedule.Timing.of(campaign)
    updates: list[logs.LogUpdate] = []
    moved: Counter[str] = Counter()
    pending = []
    for entry in page:
        # A customer removed from the database meanwhile still gets the log's own address.
        customer = customers.get(entry["customer_id"]) or {
            "customer_id": entry["customer_id"],
            "email": entry["to"],
        }
        changes: dict[str, Any] = {"updated_at": now}
        if customer.get("opted_out"):
            changes |= {"status": str(MessageStatus.SKIPPED), "reason": "opted_out"}
        elif normalise(entry["to"]) in suppressed:
            changes |= {"status": str(MessageStatus.SKIPPED), "reason": "suppressed"}
        elif timing.passed(customer.get("timezone"), now):
            changes |= {"status": str(MessageStatus.SKIPPED), "reason": "local_time_passed"}
        else:
            changes |= {"status": str(MessageStatus.PENDING), "variant": winner.name}
            changes |= materialize.rendered(campaign.id, customer, winner.message)
        updates.append((entry["_id"], MessageStatus.WAITING, changes))
        moved.update({changes["status"]: 1, str(MessageStatus.WAITING): -1})
        if changes["status"] == MessageStatus.PENDING:
            pending.append((customer, entry["_id"]))
    due_groups = schedule.groups(campaign, pending, now)
    last = page[-1]["_id"]
    seq = campaigns.take_release_page(campaign.id, cursor, last, moved, session, len(due_groups))
    if seq is None:
        return None
    if logs.update_each(updates, session) != len(updates):
        raise LogsMoved(f"campaign {campaign.id}: a waiting log moved during its release")
    skipped = [
        entry["customer_id"]
        for entry, (_, _, changes) in zip(page, updates, strict=True)
        if changes["status"] == MessageStatus.SKIPPED
    ]
    contacts.refund(campaign.id, skipped, session)
    return [
        materialize.new_chunk(campaign, seq + n, ids, timing, now, session)
        for n, (ids, timing) in enumerate(due_groups)
    ]
