"""Counts of attempts kept in Redis, each key a fixed time window that expires: the API's
failed authentications and the console's sign-in throttles. Each count is one atomic
increment, so concurrent attempts are all counted."""

from crm.queue import broker


def count(key: str, ttl_seconds: int) -> int:
    """Add one to ``key`` (kept ``ttl_seconds``); returns its count."""
    pipe = broker.redis_client().pipeline()
    pipe.incr(key)
    pipe.expire(key, ttl_seconds)
    return int(pipe.execute()[0])


def reserve(limits: list[tuple[str, int]], ttl_seconds: int) -> bool:
    """Add one to each key (kept ``ttl_seconds``); True when none is past its limit, else
    False, each given back."""
    keys = [key for key, _ in limits]
    pipe = broker.redis_client().pipeline()
    for key in keys:
        pipe.incr(key)
        pipe.expire(key, ttl_seconds)
    counts = pipe.execute()[::2]
    if all(count <= limit for count, (_, limit) in zip(counts, limits, strict=True)):
        return True
    _give_back(keys)
    return False


def _give_back(keys: list[str]) -> None:
    pipe = broker.redis_client().pipeline()
    for key in keys:
        pipe.decr(key)
    pipe.execute()


def release(given_back: str, cleared: list[str]) -> None:
    """Give one back to ``given_back`` and clear the ``cleared`` counts, in one round trip."""
    pipe = broker.redis_client().pipeline()
    pipe.decr(given_back)
    if cleared:
        pipe.delete(*cleared)
    pipe.execute()
