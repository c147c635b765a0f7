"""A messages-per-second limit shared by every worker process, kept in Redis.

Each one-second window is a counter; a sender takes as many permits as remain in
the current window (INCRBY, given back if over) and waits for the next window when
none remain. Two or three Redis commands per request, however many messages it carries.
"""

import time

import redis

WINDOW_TTL_SECONDS = 5


class RateLimit:
    def __init__(self, client: redis.Redis, key: str, per_second: int):
        self._client = client
        self._key = key
        self._per_second = per_second

    def take(self, wanted: int) -> int:
        """Block until at least one permit is free; return how many were taken (≤ wanted)."""
        while True:
            taken = self.try_take(wanted)
            if taken:
                return taken
            time.sleep(1 - time.time() % 1)

    def try_take(self, wanted: int) -> int:
        window = f"crm:rate:{self._key}:{int(time.time())}"
        pipe = self._client.pipeline()
        pipe.incrby(window, wanted)
        pipe.expire(window, WINDOW_TTL_SECONDS)
        used = int(pipe.execute()[0])
        over = used - self._per_second
        if over <= 0:
            return wanted
        self._client.decrby(window, min(over, wanted))
        return max(wanted - over, 0)
