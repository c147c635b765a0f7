import mongoengine
import pymongo
import redis

# Each server gets this long to answer a ping, so a readiness probe answers within 2 s
# even with both of them down.
PING_SECONDS = 0.8


def problems(queue: redis.Redis) -> list[str]:
    """What is unreachable right now; empty when MongoDB and Redis (``queue``) both answer."""
    found = []
    try:
        with pymongo.timeout(PING_SECONDS):
            mongoengine.get_db().command("ping")
    except Exception:
        found.append("mongodb")
    try:
        queue.ping()
    except Exception:
        found.append("redis")
    return found
