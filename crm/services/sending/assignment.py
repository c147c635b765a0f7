"""Which group each audience member of a campaign falls in: the holdout, a variant, or
(with an automatic winner) the members waiting for the winning variant.

Each draw is a keyed hash of (campaign, customer) read as a uniform number in [0, 1), so
the split is the same however often a page is materialised and whatever order the
audience is read in, and the holdout, test-share and variant draws are independent of
each other.
"""

import hashlib
from dataclasses import dataclass

from crm.documents import Campaign

_SCALE = float(2**64)


@dataclass(frozen=True)
class Arm:
    held_out: bool
    variant: str | None  # None: the campaign has no variants (or the member is held out)
    message: str
    waiting: bool = False  # outside the winner test's share: sent the winner later


def uniform(campaign_id: object, draw: str, customer_id: str) -> float:
    """A number in [0, 1), the same for the same campaign, draw and customer."""
    key = f"{campaign_id}\x1f{draw}\x1f{customer_id}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / _SCALE


def assign(campaign: Campaign, customer_id: str) -> Arm:
    if uniform(campaign.id, "holdout", customer_id) * 100 < (campaign.holdout_percent or 0):
        return Arm(held_out=True, variant=None, message="")
    if not campaign.variants:
        return Arm(held_out=False, variant=None, message=campaign.message)
    test = campaign.winner
    if test and uniform(campaign.id, "winner_test", customer_id) * 100 >= test.test_percent:
        return Arm(held_out=False, variant=None, message="", waiting=True)
    point = uniform(campaign.id, "variant", customer_id) * sum(v.weight for v in campaign.variants)
    for variant in campaign.variants:
        point -= variant.weight
        if point < 0:
            break
    return Arm(held_out=False, variant=variant.name, message=variant.message)
