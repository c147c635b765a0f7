"""Console sign-ins slowed, never locked: attempts counted per account from one client
address, and per address across accounts, in fixed quarter-hour windows in Redis.

Each attempt is counted before its password is checked (one atomic increment), and one
past a limit is refused unchecked, so a burst of concurrent attempts checks no more
passwords than the limit. A refused attempt and a right password give their count back:
what is counted is wrong passwords. A right password also clears its account's count
from that address, but never the address's (a guesser holding one account could
otherwise reset it). Accounts are counted by the e-mail address typed, existing or not,
so the answers tell nothing of which accounts exist; and since an account's count is
its own per address, a guesser elsewhere cannot keep its owner out.
"""

import hashlib
import logging
import time

from flask import current_app, request
from redis.exceptions import RedisError

from crm.queue import counters

WINDOW_SECONDS = 15 * 60

log = logging.getLogger(__name__)


def _keys(email: str | None) -> list[tuple[str, int]]:
    """The counts a sign-in to ``email`` (None: through a provider) adds to, with limits."""
    settings = current_app.config["CRM_SETTINGS"]
    window = int(time.time() // WINDOW_SECONDS)
    address = request.remote_addr
    keys = [
        (f"crm:console-sign-in:address:{address}:{window}", settings.sign_in_failures_per_address)
    ]
    if email is not None:
        account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        key = f"crm:console-sign-in:account:{account}:{address}:{window}"
        keys.append((key, settings.sign_in_failures_per_account))
    return keys


def reserve(email: str | None = None) -> bool:
    """Count a sign-in to ``email`` (None: through a provider) before it is checked;
    False (and not counted) when this address is past a limit. Without Redis, sign-ins
    are not slowed."""
    try:
        return counters.reserve(_keys(email), 2 * WINDOW_SECONDS)
    except RedisError as error:
        log.warning("sign-in throttle unavailable: %s", type(error).__name__)
        return True


def release(email: str | None = None) -> None:
    """This sign-in was no guess (a right password; a provider that did not answer): it
    does not count, and a right password clears its account's count here."""
    address, *account = [key for key, _ in _keys(email)]
    try:
        counters.release(address, account)
    except RedisError as error:
        log.warning("sign-in throttle unavailable: %s", type(error).__name__)


def refused_message() -> str:
    return f"Too many failed sign-ins from this address: try again in {_minutes_left()} minutes."


def _minutes_left() -> int:
    return int((WINDOW_SECONDS - time.time() % WINDOW_SECONDS) // 60) + 1
