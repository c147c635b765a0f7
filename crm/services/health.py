import dramatiq
import mongoengine


def problems() -> list[str]:
    """What is unreachable right now; empty when MongoDB and the broker both answer."""
    found = []
    try:
        mongoengine.get_db().command("ping")
    except Exception:
        found.append("mongodb")
    try:
        dramatiq.get_broker().client.ping()  # type: ignore[attr-defined]
    except Exception:
        found.append("redis")
    return found
