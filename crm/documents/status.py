"""Campaign and message lifecycles, each one transition table."""

from enum import StrEnum
from typing import TypeVar

S = TypeVar("S", bound=StrEnum)


class CampaignStatus(StrEnum):
    DRAFT = "DRAFT"
    SCHEDULED = "SCHEDULED"
    SENDING = "SENDING"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


class MessageStatus(StrEnum):
    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    SENT = "SENT"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    # A member not to be sent to (opted out, suppressed, over the frequency cap), with
    # its reason: made so at materialisation, or moved from PENDING by a later opt-out or
    # suppression found just before sending.
    SKIPPED = "SKIPPED"
    # A member of the campaign's control group: created final, never sent.
    HELD_OUT = "HELD_OUT"
    # A member outside an automatic winner's test share: sent the winning variant once it
    # is chosen (crm/services/sending/winner.py), or cancelled with the campaign.
    WAITING = "WAITING"


CAMPAIGN_TRANSITIONS: dict[CampaignStatus, frozenset[CampaignStatus]] = {
    CampaignStatus.DRAFT: frozenset(
        {CampaignStatus.SCHEDULED, CampaignStatus.SENDING, CampaignStatus.CANCELLED}
    ),
    # Fired at its time (or late: sent, or cancelled by its missed-schedule policy), or
    # taken back to a DRAFT.
    CampaignStatus.SCHEDULED: frozenset(
        {CampaignStatus.SENDING, CampaignStatus.CANCELLED, CampaignStatus.DRAFT}
    ),
    CampaignStatus.SENDING: frozenset(
        {CampaignStatus.PAUSED, CampaignStatus.COMPLETED, CampaignStatus.CANCELLED}
    ),
    CampaignStatus.PAUSED: frozenset({CampaignStatus.SENDING, CampaignStatus.CANCELLED}),
    CampaignStatus.COMPLETED: frozenset(),
    CampaignStatus.CANCELLED: frozenset(),
}

# A receipt may overtake the vendor's own answer, so PENDING can jump straight to
# SENT or FAILED; nothing ever moves back, and SENT, FAILED and CANCELLED are final.
MESSAGE_TRANSITIONS: dict[MessageStatus, frozenset[MessageStatus]] = {
    MessageStatus.PENDING: frozenset(
        {
            MessageStatus.ACCEPTED,
            MessageStatus.SENT,
            MessageStatus.FAILED,
            MessageStatus.CANCELLED,
            MessageStatus.SKIPPED,
        }
    ),
    MessageStatus.ACCEPTED: frozenset({MessageStatus.SENT, MessageStatus.FAILED}),
    MessageStatus.SENT: frozenset(),
    MessageStatus.FAILED: frozenset(),
    MessageStatus.CANCELLED: frozenset(),
    MessageStatus.SKIPPED: frozenset(),
    MessageStatus.HELD_OUT: frozenset(),
    MessageStatus.WAITING: frozenset(
        {
            MessageStatus.PENDING,
            MessageStatus.FAILED,
            MessageStatus.CANCELLED,
            MessageStatus.SKIPPED,
        }
    ),
}

OPEN_MESSAGE_STATUSES = [str(MessageStatus.PENDING), str(MessageStatus.ACCEPTED)]


class ChunkState(StrEnum):
    """Where a chunk of a campaign's messages is: see crm/services/sending/__init__.py."""

    QUEUED = "QUEUED"
    LEASED = "LEASED"
    PAUSED = "PAUSED"
    CANCELLED = "CANCELLED"
    DONE = "DONE"


def sources_of(table: dict[S, frozenset[S]], target: S) -> list[str]:
    """The statuses from which ``target`` may be reached: the filter of a conditional update."""
    return [str(source) for source, targets in table.items() if target in targets]
