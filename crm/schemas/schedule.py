"""A campaign's schedule as the API takes it: when it starts, local send times, quiet hours."""

from functools import cache
from typing import Any
from zoneinfo import available_timezones

import marshmallow as ma

from crm.documents.schedule import MISSED_SCHEDULE_POLICIES
from crm.schemas.base import BaseSchema
from crm.schemas.fields import Day, Timestamp

CLOCK_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
ZONE_PATTERN = r"^[A-Za-z][A-Za-z0-9_+-]{0,29}(/[A-Za-z0-9_+-]{1,30}){0,2}$"


@cache
def zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


class TimeZoneName(ma.fields.String):
    """An IANA time zone name, such as ``Europe/Berlin``."""

    def __init__(self, **kwargs: Any):
        metadata = kwargs.setdefault("metadata", {})
        metadata.setdefault("pattern", ZONE_PATTERN)
        metadata.setdefault("example", "Europe/Berlin")
        super().__init__(validate=ma.validate.Length(max=64), **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        name = super()._deserialize(value, attr, data, **kwargs)
        if name not in zone_names():
            raise ma.ValidationError(
                "Not a time zone name: expected an IANA name such as Europe/Berlin or "
                "America/New_York."
            )
        return name


def clock_time(description: str, example: str) -> ma.fields.String:
    return ma.fields.String(
        required=True,
        validate=ma.validate.Regexp(CLOCK_PATTERN, error="Must be a time of day, HH:MM (24 h)."),
        metadata={"description": description, "example": example, "pattern": CLOCK_PATTERN},
    )


class QuietHoursSchema(BaseSchema):
    start = clock_time("Quiet from this local time (inclusive).", "21:00")
    end = clock_time("Until this local time (exclusive); past midnight if earlier.", "08:00")


class ScheduleSchema(BaseSchema):
    send_at = ma.fields.AwareDateTime(
        allow_none=True,
        metadata={
            "description": "When the campaign starts, with its UTC offset; must not be in "
            "the past. Without it (and without send_date) it starts when sent.",
            "example": "2026-12-24T09:00:00+01:00",
        },
    )
    send_date = Day(
        allow_none=True,
        metadata={
            "description": "With local_send_time: the day each member gets it, at that "
            "time in their own time zone. The campaign starts when that time comes in the "
            "first time zone (UTC+14), so its audience is read up to 26 hours before the "
            "last members get it.",
            "example": "2026-12-24",
        },
    )
    local_send_time = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Regexp(CLOCK_PATTERN, error="Must be a time of day, HH:MM (24 h)."),
        metadata={
            "description": "Each member gets it at this wall-clock time in their time zone "
            "on send_date (which it requires; send_at is then computed). A time skipped "
            "by a DST change is sent as late as the gap is long; a time that happens "
            "twice, at its first occurrence.",
            "example": "10:00",
            "pattern": CLOCK_PATTERN,
        },
    )
    timezone = TimeZoneName(
        allow_none=True,
        metadata={
            "description": "The time zone of members who have none (default: the "
            "CRM_DEFAULT_TIMEZONE setting, UTC unless set)."
        },
    )
    quiet_hours = ma.fields.Nested(
        QuietHoursSchema,
        allow_none=True,
        metadata={
            "description": "No member gets a message inside these hours of their local "
            "time: what falls inside waits for their end. Default: the CRM_QUIET_HOURS "
            "setting; equal start and end turn them off."
        },
    )
    missed_schedule = ma.fields.String(
        validate=ma.validate.OneOf(MISSED_SCHEDULE_POLICIES),
        metadata={
            "description": "If the campaign could not start at its time (the system was "
            "down) and is more than CRM_SCHEDULE_GRACE_SECONDS late: `send` sends it on "
            "recovery (never more than CRM_SCHEDULE_MAX_LATE_SECONDS late), `skip` cancels "
            "it. Either way the campaign records why (`missed`).",
            "example": "send",
        },
    )
    fired_at = Timestamp(dump_only=True, allow_none=True)
    late_seconds = ma.fields.Float(
        dump_only=True, allow_none=True, metadata={"description": "How late it started."}
    )
    missed = ma.fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"description": "Why it was sent late, or not at all."},
    )

    @ma.validates_schema
    def consistent(self, data: dict[str, Any], **kwargs: Any) -> None:
        local = data.get("local_send_time")
        if local and data.get("send_at"):
            raise ma.ValidationError(
                "Give send_date with local_send_time (send_at is computed).", "send_at"
            )
        if local and not data.get("send_date"):
            raise ma.ValidationError("local_send_time needs send_date.", "send_date")
        if data.get("send_date") and not local:
            raise ma.ValidationError("send_date needs local_send_time.", "local_send_time")
