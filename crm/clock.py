"""The one clock: naive UTC datetimes, as MongoDB stores them."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
