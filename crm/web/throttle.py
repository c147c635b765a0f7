"""Failed sign-ins counted per client address, across accounts: the per-account lock stops
guessing one account's password, this slows guessing many accounts' from one address.

Counted in Redis, in fixed quarter-hour windows. Past the limit, the address's sign-ins
are refused before any password is checked, so a guess there tells nothing; a success
does not reset the count (a guesser holding one account could otherwise reset it).
"""

import logging
import time

from flask import current_app, request
from redis.exceptions import RedisError

from workers import broker

WINDOW_SECONDS = 15 * 60

log = logging.getLogger(__name__)


def _key() -> str:
    window = int(time.time() // WINDOW_SECONDS)
    return f"crm:console-sign-in-failures:{request.remote_addr}:{window}"


def _limit() -> int:
    return current_app.config["CRM_SETTINGS"].sign_in_failures_per_address


def blocked() -> bool:
    """Whether this address has used up its failed sign-ins for the window. Without Redis,
    only the per-account lock holds."""
    try:
        failures = broker.redis_client().get(_key())
    except RedisError as error:
        log.warning("sign-in throttle unavailable: %s", type(error).__name__)
        return False
    return int(failures or 0) >= _limit()


def count_failure() -> None:
    try:
        pipe = broker.redis_client().pipeline()
        pipe.incr(_key())
        pipe.expire(_key(), 2 * WINDOW_SECONDS)
        pipe.execute()
    except RedisError as error:
        log.warning("sign-in throttle unavailable: %s", type(error).__name__)


def blocked_message() -> str:
    return f"Too many failed sign-ins from this address: try again in {_minutes_left()} minutes."


def _minutes_left() -> int:
    return int((WINDOW_SECONDS - time.time() % WINDOW_SECONDS) // 60) + 1
