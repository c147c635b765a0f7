"""Local wall-clock times against a brute-force oracle: every minute of the days around
the date, converted by zoneinfo from UTC, looking for the wanted wall-clock reading."""

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from crm.services import local_time
from crm.services.local_time import QuietHours
from crm.services.sending import schedule

ZONES = ["America/New_York", "Europe/Berlin", "Asia/Tokyo", "Australia/Lord_Howe"]
# Ordinary days and each zone's DST changes in 2027 (Lord Howe moves by 30 minutes).
DAYS = [
    date(2027, 1, 15),
    date(2027, 3, 14),  # New York springs forward
    date(2027, 3, 28),  # Berlin springs forward
    date(2027, 4, 4),  # Lord Howe falls back
    date(2027, 10, 3),  # Lord Howe springs forward
    date(2027, 10, 31),  # Berlin falls back
    date(2027, 11, 7),  # New York falls back
]


def oracle(day: date, wall: time, zone: str) -> list[datetime]:
    """Every UTC minute (naive) that reads ``wall`` on ``day`` in ``zone``."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(days=1)
    minutes = (start + timedelta(minutes=m) for m in range(3 * 24 * 60))
    return [
        moment.replace(tzinfo=None)
        for moment in minutes
        if (local := moment.astimezone(ZoneInfo(zone))).date() == day and local.time() == wall
    ]


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("day", DAYS)
def test_ten_oclock_is_ten_oclock_on_the_wall_every_day(day, zone):
    assert [local_time.at(day, time(10), ZoneInfo(zone))] == oracle(day, time(10), zone)


def test_a_time_skipped_by_the_clocks_moves_forward_by_the_gap():
    # New York, 2027-03-14: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist.
    assert oracle(date(2027, 3, 14), time(2, 30), "America/New_York") == []
    skipped = local_time.at(date(2027, 3, 14), time(2, 30), ZoneInfo("America/New_York"))
    assert oracle(date(2027, 3, 14), time(3, 30), "America/New_York") == [skipped]
    # Lord Howe, 2027-10-03: 02:00 jumps to 02:30; 02:15 becomes 02:45.
    skipped = local_time.at(date(2027, 10, 3), time(2, 15), ZoneInfo("Australia/Lord_Howe"))
    assert oracle(date(2027, 10, 3), time(2, 45), "Australia/Lord_Howe") == [skipped]


def test_a_time_that_happens_twice_is_its_first_occurrence():
    # New York, 2027-11-07: 01:30 happens at 05:30 UTC (EDT) and again at 06:30 UTC (EST).
    twice = oracle(date(2027, 11, 7), time(1, 30), "America/New_York")
    assert len(twice) == 2
    assert local_time.at(date(2027, 11, 7), time(1, 30), ZoneInfo("America/New_York")) == twice[0]


@pytest.mark.parametrize(
    ("hours", "wall", "inside"),
    [
        (("21:00", "08:00"), time(21, 0), True),
        (("21:00", "08:00"), time(3, 0), True),
        (("21:00", "08:00"), time(7, 59), True),
        (("21:00", "08:00"), time(8, 0), False),
        (("21:00", "08:00"), time(12, 0), False),
        (("12:00", "14:00"), time(13, 0), True),
        (("12:00", "14:00"), time(14, 0), False),
    ],
)
def test_quiet_hours_wrap_past_midnight(hours, wall, inside):
    assert QuietHours.parse(*hours).contains(wall) is inside


def test_equal_start_and_end_mean_no_quiet_hours():
    assert QuietHours.parse("00:00", "00:00") is None


@pytest.mark.parametrize("zone", ZONES)
def test_quiet_hours_end_at_the_local_end_the_next_morning(zone):
    hours = QuietHours.parse("21:00", "08:00")
    where = ZoneInfo(zone)
    # 23:30 local on the eve of a DST change ends at 08:00 the next local morning.
    for day in DAYS:
        evening = local_time.at(day - timedelta(days=1), time(23, 30), where)
        assert [hours.end_after(evening, where)] == oracle(day, time(8), zone)
        early = local_time.at(day, time(6), where)
        assert [hours.end_after(early, where)] == oracle(day, time(8), zone)
        assert hours.end_after(local_time.at(day, time(10), where), where) is None


# Zones whose clocks change at other hours, by other amounts, or at midnight.
CHANGING_ZONES = [
    *ZONES,
    "Europe/London",
    "America/Havana",
    "America/Santiago",
    "Pacific/Chatham",
    "America/St_Johns",
]
QUIET_HOURS = [
    ("01:00", "02:30"),
    ("21:00", "08:00"),
    ("00:00", "01:00"),
    ("02:00", "03:00"),
    ("02:30", "05:00"),
    ("23:00", "00:30"),
]


def clock_changes(zone: str, year: int = 2027) -> list[datetime]:
    """The UTC hours (aware) in ``year`` after which ``zone``'s offset differs."""
    where = ZoneInfo(zone)
    start = datetime(year, 1, 1, tzinfo=UTC)
    hours = [start + timedelta(hours=h) for h in range(366 * 24)]
    return [
        hour
        for hour, after in pairwise(hours)
        if hour.astimezone(where).utcoffset() != after.astimezone(where).utcoffset()
    ]


def first_minutes_out_of_quiet(
    hours: QuietHours, zone: str, start: datetime, days: int
) -> list[datetime | None]:
    """For each UTC minute from ``start`` for ``days`` days (the last day as look-ahead),
    the first minute from it whose local wall-clock time is outside ``hours``, if that
    minute is inside them; None if it is outside."""
    where = ZoneInfo(zone)
    minutes = [start + timedelta(minutes=m) for m in range(days * 24 * 60)]
    quiet = [hours.contains(moment.astimezone(where).time()) for moment in minutes]
    first: list[datetime | None] = [None] * len(minutes)
    next_out = None
    for i in reversed(range(len(minutes))):
        if not quiet[i]:
            next_out = minutes[i].replace(tzinfo=None)
        else:
            first[i] = next_out
    return first


@pytest.mark.parametrize("zone", CHANGING_ZONES)
def test_quiet_hours_end_at_the_first_minute_outside_them_around_every_clock_change(zone):
    where = ZoneInfo(zone)
    changes = clock_changes(zone)
    assert changes or zone == "Asia/Tokyo"
    for change in [*changes, datetime(2027, 1, 15, tzinfo=UTC)]:
        start = change.replace(hour=0, minute=0) - timedelta(days=1)
        for given in QUIET_HOURS:
            hours = QuietHours.parse(*given)
            expected = first_minutes_out_of_quiet(hours, zone, start, 3)
            for m in range(0, 2 * 24 * 60, 5):
                instant = (start + timedelta(minutes=m)).replace(tzinfo=None)
                assert hours.end_after(instant, where) == expected[m], (zone, given, instant)


def test_berlin_quiet_hours_hold_through_the_hour_the_clocks_go_back():
    # 2027-10-31 01:00 UTC: 03:00 CEST becomes 02:00 CET, inside quiet hours 01:00-02:30
    # (their first end, 02:30 CEST, was at 00:30 UTC); they end again at 02:30 CET.
    hours, where = QuietHours.parse("01:00", "02:30"), ZoneInfo("Europe/Berlin")
    assert hours.end_after(datetime(2027, 10, 31, 1, 0), where) == datetime(2027, 10, 31, 1, 30)
    just_after = datetime(2027, 10, 31, 1, 0, 0, 123456)
    assert hours.end_after(just_after, where) == datetime(2027, 10, 31, 1, 30)
    chunk = {"zones": ["Europe/Berlin"], "quiet_hours": {"start": "01:00", "end": "02:30"}}
    assert schedule.hold_until(chunk, datetime(2027, 10, 31, 1, 0)) == datetime(2027, 10, 31, 1, 30)
