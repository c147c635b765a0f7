"""Campaign and message lifecycles, each one transition table."""

from enum import StrEnum
from typing import TypeVar

S = TypeVar("S", bound=StrEnum)


class CampaignStatus(StrEnum):
    DRAFT = "DRAFT"
    SENDING = "SENDING"
    COMPLETED = "COMPLETED"


class MessageStatus(StrEnum):
    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    SENT = "SENT"
    FAILED = "FAILED"


CAMPAIGN_TRANSITIONS: dict[CampaignStatus, frozenset[CampaignStatus]] = {
    CampaignStatus.DRAFT: frozenset({CampaignStatus.SENDING}),
    CampaignStatus.SENDING: frozenset({CampaignStatus.COMPLETED}),
    CampaignStatus.COMPLETED: frozenset(),
}

# A receipt may overtake the vendor's own answer, so PENDING can jump straight to
# SENT or FAILED; nothing ever moves back, and SENT and FAILED are final.
MESSAGE_TRANSITIONS: dict[MessageStatus, frozenset[MessageStatus]] = {
    MessageStatus.PENDING: frozenset(
        {MessageStatus.ACCEPTED, MessageStatus.SENT, MessageStatus.FAILED}
    ),
    MessageStatus.ACCEPTED: frozenset({MessageStatus.SENT, MessageStatus.FAILED}),
    MessageStatus.SENT: frozenset(),
    MessageStatus.FAILED: frozenset(),
}


def sources_of(table: dict[S, frozenset[S]], target: S) -> list[str]:
    """The statuses from which ``target`` may be reached: the filter of a conditional update."""
    return [str(source) for source, targets in table.items() if target in targets]
