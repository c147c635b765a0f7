"""Field types shared by the schemas."""

from datetime import UTC, date, datetime
from typing import Any

import marshmallow as ma
from bson import Decimal128, ObjectId
from bson.errors import InvalidId

from crm.documents.customer import MAX_MONEY

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$"


def external_id(**kwargs: Any) -> ma.fields.String:
    """A client-chosen id such as ``cust010``: letters, digits and ``_.:@-``."""
    return ma.fields.String(
        validate=ma.validate.Regexp(ID_PATTERN, error="Must be 1-64 letters, digits or _.:@-."),
        **kwargs,
    )


def utc_iso(moment: datetime) -> str:
    """``moment`` with its UTC offset; a naive datetime is UTC, as documents store them."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class Timestamp(ma.fields.DateTime):
    """An instant, sent with its offset: ``2026-12-01T10:06:16.300000+00:00``."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else utc_iso(value)


class Day(ma.fields.Date):
    """A calendar day, ``YYYY-MM-DD``, stored as midnight UTC."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, datetime):
            value = value.date()
        return super()._serialize(value, attr, obj, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        day: date = super()._deserialize(value, attr, data, **kwargs)
        if day.year < 1900:
            raise ma.ValidationError("Must be on or after 1900-01-01.")
        return datetime(day.year, day.month, day.day)


class Money(ma.fields.Decimal):
    """A non-negative amount with at most two decimals, sent and received as a JSON number."""

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("validate", ma.validate.Range(min=0, max=MAX_MONEY))
        super().__init__(places=2, allow_nan=False, **kwargs)

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, Decimal128):
            value = value.to_decimal()
        return super()._serialize(value, attr, obj, **kwargs)


class ObjectIdString(ma.fields.String):
    """A 24-hex-digit MongoDB id."""

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("metadata", {}).setdefault("pattern", "^[0-9a-fA-F]{24}$")
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return ObjectId(text)
        except (InvalidId, TypeError) as error:
            raise ma.ValidationError("Not a valid id: expected 24 hexadecimal digits.") from error

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else str(value)
