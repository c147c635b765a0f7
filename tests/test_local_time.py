"""Local wall-clock times against a brute-force oracle: every minute of the days around
the date, converted by zoneinfo from UTC, looking for the wanted wall-clock reading."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from crm.services import local_time
from crm.services.local_time import QuietHours

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
