import mongoengine
import redis


def problems(queue: redis.Redis) -> list[str]:
    """What is unreachable right now; empty when MongoDB and the queue's Redis both answer."""
    found = []
    try:
        mongoengine.get_db().command("ping")
    except Exception:
        found.append("mongodb")
    try:
        queue.ping()
    except Exception:
        found.append("redis")
    return found
